from casenotes.cli import main

main()
