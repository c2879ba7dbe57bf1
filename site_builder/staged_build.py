"""One `mkdocs build`, in this process, cut into the steps `casenotes open` interleaves.

A plain `mkdocs build` pays its fixed cost (imports, config, the theme's templates
compiled, the theme's files listed and copied) once, then renders page after page. Here
the fixed cost is paid once too, part of it while the passphrase is derived
(``warm_up``); then the overview is rendered first, so that it can be served at once, and
the other pages are rendered by two processes: a child forked from this one (it inherits
the loaded config, navigation and compiled templates) renders its share into the same
site folder and sends back its pages' search entries.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import theme
from .errors import BuildStopped, SiteBuildFailed
from .stopping import POLL, StopFlag

#: Set by a signal handler (site_builder/session.py) to stop the build at its next page and the
#: server at its next look: an exception raised from the handler at an arbitrary point
#: (inside an import, a lock, a pipe) can leave the process stuck with the site's plaintext
#: on disk, and an Event's lock can deadlock the handler (stopping.py).
stop_requested = StopFlag()

_warm: threading.Thread | None = None
_enough = threading.Event()  # set by settled(): what runs after the warm-up stops
_bytecode: Any = None  # a jinja2.BytecodeCache held in memory: templates compiled once a process
# The theme's files, by the theme's folders, listed during the warm-up (Material ships
# some 14,000, its icons, of which a build copies about 40): hidden ones left out, as
# MkDocs' own filter (".*", "*/.*") leaves them out.
_theme_files: dict[tuple[str, ...], list[str]] = {}


def warm_up(then: Callable[[Callable[[], bool]], object] | None = None) -> None:
    """Import MkDocs and Material and compile the theme's templates, in a thread; then run
    ``then(enough)`` in it, until ``enough()`` (settled() says when).

    Started before the passphrase is asked: Argon2id runs in C without the GIL, so the
    seconds it takes (and the practitioner's typing) cover this fixed cost. ``then`` runs
    after the theme, never beside it, so it only takes what time is left over."""
    global _warm
    if _warm is not None and (then is None or _warm.is_alive()):
        return
    first = _warm is None
    _enough.clear()

    def work() -> None:
        if first:
            _compile_theme()
        if then is not None:
            then(_enough.is_set)

    _warm = threading.Thread(target=work, name="casenotes-warm-up", daemon=True)
    _warm.start()


def settled() -> None:
    """Stop what runs after the warm-up and wait for it: before a fork (a lock held by the
    import in another thread would be held forever in the child) and before the build
    uses the templates."""
    if _warm is not None:
        _enough.set()
        _warm.join()


def _compile_theme() -> None:
    try:
        env = _theme_env()
        for name in theme.TEMPLATES:
            env.get_template(name)
        listed = env.list_templates()
        _theme_files[tuple(env.loader.searchpath)] = [n for n in listed if not (n[0] == "." or "/." in n)]
    except Exception:  # a head start only: the build meets (and reports) any problem
        logging.getLogger(__name__).debug("warm-up stopped", exc_info=True)


def _theme_env() -> Any:
    import jinja2
    from mkdocs.commands import build  # noqa: F401 - the build's own imports, loaded now
    from mkdocs.theme import Theme

    global _bytecode
    if _bytecode is None:
        _bytecode = _MemoryBytecodeCache(jinja2.BytecodeCache)
    env = Theme(name=theme.NAME).get_env()
    env.bytecode_cache = _bytecode
    return env


def _share_bytecode(theme_: Any) -> None:
    """Every Jinja environment of this build's theme (the page templates', and the search
    plugin's, which makes one per translated word) uses the templates compiled in memory."""
    if _bytecode is None:
        return
    get_env = theme_.get_env

    def with_bytecode() -> Any:
        env = get_env()
        env.bytecode_cache = _bytecode
        return env

    theme_.get_env = with_bytecode


def _add_theme_files(files: Any, env: Any, config: Any) -> None:
    """files.add_files_from_theme, from the listing made during the warm-up if there is one
    for these folders (a shared bundle's banner adds one: it lists them then)."""
    listed = _theme_files.get(tuple(getattr(env.loader, "searchpath", ())))
    if listed is not None:
        env.list_templates = lambda extensions=None, filter_func=None: [
            name for name in listed if filter_func is None or filter_func(name)
        ]
    try:
        files.add_files_from_theme(env, config)
    finally:
        env.__dict__.pop("list_templates", None)


def _MemoryBytecodeCache(base: type) -> Any:  # a class made once jinja2 is loaded
    class MemoryBytecodeCache(base):  # type: ignore[misc,valid-type]
        """Compiled templates kept in this process (keyed by name and source checksum)."""

        def __init__(self) -> None:
            self.store: dict[str, bytes] = {}

        def load_bytecode(self, bucket: Any) -> None:
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket: Any) -> None:
            self.store[bucket.key] = bucket.bytecode_to_string()

    return MemoryBytecodeCache()


class StagedBuild:
    """The steps of one build of ``config_file``'s project, its pages already written."""

    def __init__(self, config_file: Path, scripts: set[str] | None = None) -> None:
        """``scripts``: filled with the CSP hashes of the theme's inline scripts in every
        page rendered (in this process or the forked one), from the text as it is written."""
        settled()
        from mkdocs.commands.build import get_files, get_navigation
        from mkdocs.config import load_config
        from mkdocs.structure.files import set_exclusions
        from mkdocs.structure.pages import Page

        config = load_config(str(config_file))
        _share_bytecode(config.theme)
        config.plugins.on_startup(command="build", dirty=False)
        try:
            config = config.plugins.on_config(config)
            config.plugins.on_pre_build(config=config)
            site = Path(config.site_dir)
            if site.exists():
                shutil.rmtree(site)
            self.env = config.theme.get_env()
            files = get_files(config)
            _add_theme_files(files, self.env, config)
            files = config.plugins.on_files(files, config=config)
            set_exclusions(files, config)
            self.nav = config.plugins.on_nav(get_navigation(files, config), config=config, files=files)
            self.docs = files.documentation_pages()
            for file in self.docs:
                if file.page is None:  # a page kept out of the navigation
                    Page(None, file, config)
            # Our one plugin (search) reads no pages here; MkDocs runs this after reading them.
            self.env = config.plugins.on_env(self.env, config=config, files=files)
            files.copy_static_files()  # the theme's CSS and scripts: the overview needs them
        except BaseException:
            config.plugins.on_shutdown()
            raise
        self.config, self.files = config, files
        self.scripts = set() if scripts is None else scripts
        # after every plugin's: the page's text as it is written
        config.plugins.events["post_page"].append(self._hash_scripts)
        self.search = theme.search_entries(config)
        self.entries: dict[str, list[Any]] = {}  # each page's search entries, by source path

    def _hash_scripts(self, output: str, **_: Any) -> str:
        self.scripts.update(theme.page_script_hashes(output))
        return output

    @property
    def pages(self) -> list[str]:
        return [file.src_uri for file in self.docs]

    def build_pages(self, uris: Iterable[str]) -> dict[str, list[Any]]:
        """Render pages (Markdown, then the theme) and write them; their search entries."""
        from mkdocs.commands.build import _build_page, _populate_page

        by_uri = {file.src_uri: file for file in self.docs}
        built = {}
        for uri in uris:
            if stop_requested.is_set():
                raise BuildStopped()
            page = by_uri[uri].page
            assert page is not None  # every documentation file got its page in __init__
            before = len(self.search)
            _populate_page(page, self.config, self.files)
            _build_page(page, self.config, self.docs, self.nav, self.env)
            built[uri] = self.search[before:]
        self.entries.update(built)
        return built

    def build_in_two(
        self,
        uris: Sequence[str],
        weights: dict[str, int],
        forked: Callable[[], object] = lambda: None,
        write: Callable[[list[str]], object] = lambda _: None,
    ) -> None:
        """Render ``uris`` in two processes at once; ``forked`` runs in this one once the
        other has started (a server thread started after the fork is not in the child),
        and each process calls ``write`` with its share (their Markdown) before rendering it."""
        theirs, ours = _halves(uris, weights)
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)

        def work() -> None:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)  # not the parent's handlers: just stop
            write(theirs)
            sender.send((self.build_pages(theirs), self.scripts))
            sender.close()

        child = context.Process(target=work, daemon=True)
        child.start()
        sender.close()
        try:
            forked()
            write(ours)
            self.build_pages(ours)
            while not receiver.poll(POLL):  # a stop asked meanwhile ends the child's half too
                if stop_requested.is_set():
                    raise BuildStopped()
                if not child.is_alive() and not receiver.poll():
                    break
            try:
                entries, scripts = receiver.recv()
                self.entries.update(entries)
                self.scripts.update(scripts)
            except EOFError:
                pass  # the child failed: its exit code says so below
            child.join()
        finally:
            receiver.close()
            if child.is_alive():  # this process is unwinding (an error, Ctrl-C)
                child.terminate()
                child.join()
        if child.exitcode != 0:
            raise SiteBuildFailed(f"the parallel build stopped with code {child.exitcode}")

    def finish(self) -> None:
        """The search index of every page, in page order; the plugins told the build ended.

        The theme's 404 page and sitemap are not made: a private site on 127.0.0.1 has no
        crawler to tell, and its server answers a missing page with an empty 404."""
        try:
            self.search[:] = [entry for uri in self.pages for entry in self.entries.get(uri, ())]
            self.config.plugins.on_post_build(config=self.config)
        finally:
            self.config.plugins.on_shutdown()

    def abandon(self) -> None:
        self.config.plugins.on_shutdown()


def _halves(uris: Sequence[str], weights: dict[str, int]) -> tuple[list[str], list[str]]:
    """Two shares of about equal work (a page's Markdown length stands for its cost), each
    in site order; the heaviest pages are placed first."""
    shares: tuple[list[str], list[str]] = ([], [])
    load = [0, 0]
    for uri in sorted(uris, key=lambda u: -weights.get(u, 0)):
        lighter = 0 if load[0] <= load[1] else 1
        shares[lighter].append(uri)
        load[lighter] += weights.get(uri, 0) + 2000  # a page's fixed cost: templating, writing
    order = {uri: n for n, uri in enumerate(uris)}
    return sorted(shares[0], key=order.get), sorted(shares[1], key=order.get)  # type: ignore[arg-type]
