"""What several tests share: fixtures and steps that used to live in one test module and
were imported from it by others."""
