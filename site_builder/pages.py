"""The Markdown pages of one client's site, generated from the timeline.

Each session is a section of its month's page (``sessions/2026-01.md#n-<note id>``),
linked from the timeline and kept out of the navigation. Material renders the whole
navigation into every page, so a nav listing every session makes the build grow with the
square of the notes; and each page costs Material about 4 ms of templating and indexing
whatever its length, so a page per session could not be served within 3 s at 500 notes
(measured in docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from html import escape

from note_templates.measures import risk_signals
from note_templates.risk import Risk

from .charts import SCALES, band_of, line_chart, reliable_change
from .timeline import Entry, OnFile, Timeline, homework_done, section, trend
from .todo import HEADINGS, needs

NAV = [
    ("Overview", "index.md"),
    ("Timeline", "timeline.md"),
    ("Treatment plan", "plan.md"),
    ("Measures", "measures.md"),
    ("Homework", "homework.md"),
    ("Themes", "themes.md"),
    ("To do", "todo.md"),
]
TITLES = {
    "soap": "SOAP",
    "dap": "DAP",
    "birp": "BIRP",
    "girp": "GIRP",
    "progress": "Progress",
    "intake": "Intake",
    "psychotherapy": "Psychotherapy note",
    "treatment-plan": "Treatment plan",
    "discharge": "Discharge",
    "addendum": "Addendum",
}


def count(number: int, word: str, plural: str | None = None) -> str:
    """'1 session', '3 sessions': no "session(s)" on a page a practitioner reads."""
    return f"{number} {word if number == 1 else plural or word + 's'}"


# Each level's Material admonition (the banner) and its colour (Material's own for that
# admonition, so a badge on the timeline and the banner agree). A risk with words and no
# level, or not assessed, is "unclear": never the colour of none.
LEVEL_ADMONITION = {
    "none": "success",
    "low": "info",
    "moderate": "warning",
    "high": "failure",
    "imminent": "danger",
    None: "example",
}
ADMONITION_COLOUR = {
    "success": "#00c853",
    "info": "#00b8d4",
    "warning": "#ff9100",
    "failure": "#ff5252",
    "danger": "#ff1744",
    "example": "#7c4dff",
}


def level_badge(risk: Risk) -> str:
    """The level as a coloured label (HTML): "high", or "level not recorded"."""
    level = risk.level or "level not recorded"
    colour = ADMONITION_COLOUR[LEVEL_ADMONITION[risk.level]]
    return (
        f'<span class="cn-risk cn-risk-{escape(risk.level or "unrecorded")}" '
        f'style="color:#fff;background:{colour};padding:0 .35em;border-radius:.2em;font-weight:700">'
        f"{escape(level)}</span>"
    )


def risk_words(entry: Entry, marked: bool = True) -> str:
    """What the risk line says: the level (coloured) and the words, or "not assessed";
    ``marked``: with "(corrected on DATE)" when an addendum corrected it."""
    if entry.risk_level is None:
        return f"*{entry.risk_state}*"  # not assessed, or not shared
    words = entry.risk_level.words
    fix = entry.corrected("risk") if marked else None
    return (
        level_badge(entry.risk_level)
        + (f" {_md(words)}" if words else "")
        + (f" *(corrected on {fix.date:%d %b %Y})*" if fix else "")
    )


def _md(text: str) -> str:
    """Client-written text placed inside our own Markdown: no HTML, no links, no images."""
    for char in "\\[]`|":
        text = text.replace(char, "\\" + char)
    return text.replace("<", "&lt;")


def session_path(entry: Entry) -> str:
    """The month page a session lives on."""
    return f"sessions/{entry.date:%Y-%m}.md"


def anchor(entry: Entry) -> str:
    return f"n-{entry.note_id}"


def session_url(entry: Entry, from_root: bool = True) -> str:
    """The built page's address. Links name the .html file itself: a month page may be
    built in another process, where MkDocs could not resolve a link to its .md source."""
    page = session_path(entry)[:-3] + ".html"
    return f"{page if from_root else page.removeprefix('sessions/')}#{anchor(entry)}"


def _link(entry: Entry, from_root: bool = True) -> str:
    return f"[{entry.date:%d %b %Y}]({session_url(entry, from_root)})"


def _a(entry: Entry) -> str:
    """A link as raw HTML, for the long lists: Markdown passes raw HTML through untouched,
    which keeps a 500-session timeline from costing a second of inline parsing."""
    return f'<a href="{session_url(entry)}">{entry.date:%d %b %Y}</a>'


def _draft(entry: Entry) -> str:
    """After anything taken from a draft: a draft never passes for the record (invariant 9)."""
    return "" if entry.signed else " *(draft, not signed)*"


def _kind(entry: Entry) -> str:
    return TITLES.get(entry.kind, entry.kind.replace("-", " ").capitalize() or "Note")


def safety_banner(t: Timeline) -> list[str]:
    """The overview's first lines: risk at a glance, as a Material admonition coloured by
    the highest level of the window; "no risk recorded" only when every session in it says
    `none`. Its title holds dates and levels only, never a note's words."""
    safety = t.safety()
    days = safety.window_days
    if safety.last is None and t.partial:
        return [f'!!! note "Risk: no session in the newest {t.partial[0]:,} notes"', f"    {_unread(t)}", ""]
    if safety.last is None:
        return ['!!! note "Risk: no session recorded yet"', "    Nothing assessed yet.", ""]
    if safety.in_window == 0:
        kind, title = "note", f"Risk: no session in the last {days} days"
    elif safety.not_shared == safety.in_window:
        kind, title = "note", "Risk: not shared with you (the consent this was shared under leaves it out)"
    elif safety.clear:
        kind, title = "success", f"No risk recorded in the last {days} days"
    elif safety.highest is not None and safety.level != "none":
        kind = LEVEL_ADMONITION[safety.level]
        title = f"Risk: {safety.level} on {safety.highest.date:%d %b %Y}, the highest in the last {days} days"
    else:
        kind = LEVEL_ADMONITION[None]
        title = f"Risk unclear: not assessed or no level in {count(len(safety.unclear), 'session')} of the last {days} days"
    if t.partial and (not t.sessions or t.sessions[-1].date >= safety.since):
        title += f" (newest {t.partial[0]:,} of {t.partial[1]:,} notes)"  # the window may reach older ones
    body = []
    if safety.highest is not None and safety.level != "none":
        highest = safety.highest
        body.append(f"**Highest in {days} days** ({_link(highest)}{_draft(highest)}): {risk_words(highest)}")
    body.append(f"**Last session** ({_link(safety.last)}{_draft(safety.last)}): {risk_words(safety.last)}")
    if safety.unclear:
        shown = ", ".join(_link(e) for e in safety.unclear[:6]) + (" …" if len(safety.unclear) > 6 else "")
        body.append(f"**Not assessed, or no level,** in {count(len(safety.unclear), 'session')}: {shown}")
    plan = safety.safety_plan
    body.append(
        f"**Latest safety-plan note:** {_link(plan)} ({_kind(plan)})"
        if plan
        else f"**Latest safety-plan note:** none{_in_newest(t)}"
    )
    return [f'!!! {kind} "{title}"', *(f"    {line}\n" for line in body), ""]


def _days_ago(today: dt.date, day: dt.date) -> str:
    days = (today - day).days
    if days < 0:
        return f"in {count(-days, 'day')}"
    return "today" if days == 0 else f"{count(days, 'day')} ago"


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def chart_header(t: Timeline) -> list[str]:
    """Who, under the safety banner: age, pronouns, diagnosis, the plan's review date and the
    next session, each from the newest note (or the profile) that says it; only what is known."""
    facts = []
    if t.born is not None:
        facts.append(f"**age** {_age(t.born, t.today)}")
    pronouns = next((str(e.meta["pronouns"]) for e in t.entries if e.meta.get("pronouns")), None)
    if pronouns:
        facts.append(f"**pronouns** {_md(pronouns)}")
    diagnosis = next((e.texts("diagnosis") for e in t.entries if e.texts("diagnosis")), [])
    if diagnosis:
        facts.append(f"**diagnosis** {_md(', '.join(diagnosis))}")
    review = next(
        (e.meta["review_date"] for e in t.entries if isinstance(e.meta.get("review_date"), dt.date)), None
    )
    if review is not None:
        due = " (due)" if review <= t.today else ""
        facts.append(f"**plan review** {review:%d %b %Y}{due}")
    upcoming = next(
        (e.meta["next_session"] for e in t.entries if isinstance(e.meta.get("next_session"), dt.date)), None
    )
    if upcoming is not None and upcoming >= t.today:
        facts.append(f"**next session** {upcoming:%d %b %Y} ({_days_ago(t.today, upcoming)})")
    if t.consents:
        facts.append(
            f"**{count(len(t.consents), 'consent')} on file**: "
            + "; ".join(_on_file(c, t.today) for c in t.consents)
        )
    return [" · ".join(facts), ""] if facts else []


def _on_file(c: OnFile, today: dt.date) -> str:
    """One consent or release: to whom (when the record names them) and until when, with
    "expired" or "revoked" said where it no longer holds (it holds through its last day)."""
    to = f"to {_md(c.to)}, " if c.to else ""
    if c.revoked is not None:
        return f"{to}**revoked** {c.revoked:%d %b %Y}"
    return f"{to}**expired** {c.until:%d %b %Y}" if today > c.until else f"{to}until {c.until:%d %b %Y}"


def _in_newest(t: Timeline, of_all: bool = False) -> str:
    """On a partial overview, what a figure rests on: " in the newest 300 notes" (``of_all``:
    "... of 2,000 notes"); else nothing."""
    if not t.partial:
        return ""
    return f" in the newest {t.partial[0]:,}" + (f" of {t.partial[1]:,} notes" if of_all else " notes")


def _unread(t: Timeline) -> str:
    """ "1,700 older notes not read yet" on a partial overview."""
    assert t.partial is not None
    return f"{count(t.partial[1] - t.partial[0], 'older note')} not read yet"


def overview(t: Timeline) -> str:
    lines = [f"# {_md(t.handle)}", "", *safety_banner(t)]
    sessions = t.sessions
    if t.damaged:
        lines += [
            '!!! danger "Damaged notes"',
            f"    {count(len(t.damaged), 'note')} failed {'its' if len(t.damaged) == 1 else 'their'} integrity check and {'is' if len(t.damaged) == 1 else 'are'} listed on the [timeline](timeline.md).",
            "",
        ]
    lines += chart_header(t)
    if sessions:
        since = "at least " if t.partial else ""  # the first session may be in a note not read yet
        lines += [
            f"**In care since** {since}{sessions[-1].date:%d %b %Y} · **{count(len(sessions), 'session')}**"
            f"{_in_newest(t, of_all=True)} · **last session** {_link(sessions[0])} ({_kind(sessions[0])}){_draft(sessions[0])}, "
            f"{_days_ago(t.today, sessions[0].date)}",
            "",
        ]
        if sessions[0].summary:
            lines += [f"> {_md(sessions[0].summary)}", ""]
    else:
        lines += [f"No sessions{_in_newest(t, of_all=True)}." if t.partial else "No sessions yet.", ""]
    goals = t.current_goals()
    none = [f"None recorded{_in_newest(t)}."]
    lines += ["## Current goals", ""] + ([f"- {_md(g)}" for g in goals] or none) + [""]
    homework = [(entry, item) for entry, item, _ in t.homework() if sessions and entry is sessions[0]]
    lines += (
        ["## Open homework", ""]
        + (
            [f"- {_md(item)} (set {_link(entry)}){_draft(entry)}" for entry, item in homework]
            or ["None set last session."]
        )
        + [""]
    )
    lines += ["## Latest scores", ""]
    series = t.measure_series()
    if series:
        lines += ["| measure | latest | trend | band | change since first |", "|---|---|---|---|---|"]
        for name, points in sorted(series.items()):
            title = SCALES.get(name, (name,))[0]
            arrow, words = trend(points)
            shown = (
                f'<span class="cn-trend" title="{escape(words)}">{arrow}</span> {words}' if arrow else words
            )
            source = next((e for e in t.entries if name in e.measures), None)  # newest first
            draft = _draft(source) if source is not None else ""
            fix = source.corrected(f"measures.{name}") if source is not None else None
            draft += f" *(corrected on {_link(fix)})*" if fix is not None else ""
            change = f"{points[-1][1] - points[0][1]:+g}{_reliably(name, points)}"
            if t.partial and len(points) == 1:  # never "first score", "+0" from a baseline not read
                shown, change = "not known yet", "not known yet"
            lines.append(
                f"| {_md(str(title))} | {points[-1][1]:g} ({points[-1][0]:%d %b %Y}){draft} | {shown} | {band_of(name, points[-1][1])} | {change} |"
            )
        if t.partial:
            lines += ["", f"*Trend and change from the scores{_in_newest(t)}; {_unread(t)}.*"]
    else:
        lines.append(f"No scores recorded{_in_newest(t)}.")
    lines += ["", "## Risk flags and significant events", ""]
    flags = [f"- **Risk** ({_link(e)}{_draft(e)}): {risk_words(e)}" for e in t.risk_flags()]
    flags += [f"- Risk, level not recorded ({_link(e)}): {risk_words(e)}" for e in t.risk_unleveled()]
    events = [f"- {_link(e)}: {_md(text.splitlines()[0])}" for e, text in t.significant_events()]
    unassessed = t.risk_not_assessed()
    lines += flags + events
    if not flags + events and t.partial:
        lines.append(f"No risk flag{_in_newest(t)}; {_unread(t)}.")
    elif not flags + events:
        assessed = any(e.risk_state == "none" for e in sessions)
        lines.append("None: every assessed session says `none`." if assessed else "None recorded.")
    elif t.partial:
        lines += ["", f"*Flags and events{_in_newest(t)}; {_unread(t)}.*"]
    if unassessed:
        shown = ", ".join(_link(e) for e in unassessed[:6]) + (" …" if len(unassessed) > 6 else "")
        lines += ["", f"**Risk not assessed** in {count(len(unassessed), 'session')}{_in_newest(t)}: {shown}"]
    if t.hidden_psychotherapy:
        hidden = t.hidden_psychotherapy
        lines += [
            "",
            f"*{count(hidden, 'psychotherapy note')} {'is' if hidden == 1 else 'are'} kept apart{_in_newest(t)} "
            "and not shown; open with `--include-psychotherapy-notes` to see them.*",
        ]
    return "\n".join(lines) + "\n"


def timeline(t: Timeline) -> str:
    lines = ["# Timeline", "", "Every note, newest first.", ""]
    for damaged in t.damaged:
        lines.append(f'!!! danger "Note {damaged.note_id} is damaged"\n    {_md(damaged.why)}\n')
    year = None
    for month, entries in t.by_month():
        if month.split()[-1] != year:
            year = month.split()[-1]
            lines += [f"## {year}", ""]
        lines += [f"### {month}", "", '<ul class="cn-timeline">']
        for entry in entries:
            facts = [escape(_kind(entry)), _state(entry, t), *_scores(entry), *_risk_html(entry)]
            item = f"<li><strong>{_a(entry)}</strong> · {' · '.join(facts)} · {escape(entry.summary)}"
            extra = "".join(
                f"<li>addendum of {_a(addendum)}: {escape(addendum.summary)}</li>"
                for addendum in t.addenda.get(entry.note_id, [])
            )
            lines.append(item + (f"<ul>{extra}</ul>" if extra else "") + "</li>")
        lines += ["</ul>", ""]
    if t.hidden_psychotherapy:
        lines.append(f"*{count(t.hidden_psychotherapy, 'psychotherapy note')} not shown.*")
    return "\n".join(lines) + "\n"


def _state(entry: Entry, t: Timeline | None = None) -> str:
    if not entry.signed:
        return '<em class="cn-draft">draft</em>'
    cosigned = t.cosigned.get(entry.note_id) if t is not None else None
    return '<span class="cn-signed">signed</span>' + (
        f", co-signed by {escape(', '.join(who for who, _ in cosigned))}" if cosigned else ""
    )


def signed_words(t: Timeline, entry: Entry) -> str:
    """ " by NAME on DATE" after "signed": who signed the note (the device that sealed its final
    revision) and when, or "" when not known (a shared bundle)."""
    who = t.signers.get(entry.device) if entry.signed else None
    if who is None:
        return ""
    try:
        when = f" on {dt.date.fromisoformat(entry.sealed_at[:10]):%d %b %Y}"
    except ValueError:
        when = ""
    return f" by {_md(who)}{when}"


def cosigned_words(t: Timeline, entry: Entry) -> str:
    """ " · co-signed by NAME on DATE" for each co-signature of a note, or ""."""
    return "".join(
        f" · co-signed by {_md(who)} on {dt.date.fromisoformat(when[:10]):%d %b %Y}"
        for who, when in t.cosigned.get(entry.note_id, [])
    )


def _scores(entry: Entry) -> list[str]:
    return [
        f"{escape(str(SCALES.get(k, (k,))[0]))} {v:g}"
        + (
            f" <em>(corrected on {fix.date:%d %b %Y})</em>"
            if (fix := entry.corrected(f"measures.{k}"))
            else ""
        )
        for k, v in entry.measures.items()
    ]


def _correction(entry: Entry, name: str, was: object, from_root: bool = True) -> str:
    """ " *(corrected on DATE by an addendum; signed as WAS)*" after a corrected value, or ""."""
    fix = entry.corrected(name)
    if fix is None:
        return ""
    before = "nothing" if was in (None, "") else _md(str(was))
    return f" *(corrected on {_link(fix, from_root)} by an addendum; signed as {before})*"


def _signed_as(entry: Entry, name: str) -> object:
    original = entry.signed_as or {}
    if name == "risk":
        return original.get("risk")
    measures = original.get("measures")
    return measures.get(name.removeprefix("measures."), None) if isinstance(measures, dict) else None


def _shows_risk(entry: Entry) -> bool:
    return entry.records_risk or entry.risk is not None


def _risk_html(entry: Entry) -> list[str]:
    """The risk a note recorded, as the timeline shows it: its level coloured, low and
    above in bold."""
    if not _shows_risk(entry):
        return []
    if entry.risk_level is None:
        return [f'<em class="cn-risk-unassessed">risk {entry.risk_state}</em>']
    words = entry.risk_level.words
    shown = f"risk: {level_badge(entry.risk_level)}" + (f" {escape(words)}" if words else "")
    fix = entry.corrected("risk")
    shown += f" <em>(corrected on {fix.date:%d %b %Y})</em>" if fix else ""
    return [f'<strong class="cn-risk-flag">{shown}</strong>' if entry.risk_state == "flag" else shown]


def session(t: Timeline, entry: Entry) -> str:
    meta = entry.meta
    details = [f"{entry.date:%A %d %b %Y}"]
    details += [str(meta[k]) for k in ("time",) if meta.get(k)]
    details += [f"{meta['duration_minutes']} min" for _ in [0] if meta.get("duration_minutes")]
    details += [str(meta["modality"]) for _ in [0] if meta.get("modality")]
    lines = [
        f'<a id="{anchor(entry)}"></a>',
        "",
        f"## {_kind(entry)}, {entry.date:%d %b %Y}",
        "",
        f"*{_md(' · '.join(details))}* · revision {entry.revision}"
        + (" · signed" if entry.signed else " · draft")
        + signed_words(t, entry)
        + cosigned_words(t, entry),
        "",
    ]
    amends = meta.get("amends")
    if isinstance(amends, str):
        target = next((e for e in t.entries if e.note_id == amends), None)
        lines += [f"Amends the note of {_link(target, False) if target else amends}.", ""]
    for addendum in t.addenda.get(entry.note_id, []):
        lines += [
            f'!!! note "Addendum of {addendum.date:%d %b %Y}"',
            f"    See {_link(addendum, False)}.",
            "",
        ]
    lines += amendment_boxes(t, entry)
    if entry.measures:
        lines += [
            " · ".join(
                f"**{SCALES.get(k, (k,))[0]}** {v:g}"
                + _correction(entry, f"measures.{k}", _signed_as(entry, f"measures.{k}"), False)
                for k, v in entry.measures.items()
            ),
            "",
        ]
        endorsed = risk_signals(meta)  # the answers themselves, beside what the clinician concluded
        if endorsed:
            lines += [f"**Risk items endorsed:** {_md('; '.join(endorsed))}", ""]
    if _shows_risk(entry):
        correction = _correction(entry, "risk", _signed_as(entry, "risk"), False)
        lines += [f"**Risk:** {risk_words(entry, marked=False)}{correction}", ""]
    body = _demote(entry.body)
    return "\n".join(lines) + "\n" + body + "\n"


def _indented(words: str) -> list[str]:
    """Client or practitioner words inside an admonition: escaped, every line indented."""
    return [f"    {_md(line)}" if line.strip() else "" for line in words.strip().splitlines()]


def amendment_boxes(t: Timeline, entry: Entry) -> list[str]:
    """The client's amendment requests about this note (HIPAA 164.526): awaiting a decision,
    accepted (the addendum), denied (the reason), and the client's statement of disagreement,
    which stays with the note from then on."""
    lines: list[str] = []
    for shown in t.amendments.get(entry.note_id, []):
        asked = f"Amendment requested on {shown.received:%d %b %Y} (request {shown.request_id})"
        if shown.decision is None:
            lines += [
                f'!!! info "{asked}"',
                f"    Awaiting a decision, due by {shown.deadline:%d %b %Y}.",
                "",
            ]
        elif shown.decision == "accept":
            target = next((e for e in t.entries if e.note_id == shown.addendum), None)
            where = _link(target, False) if target else f"addendum {shown.addendum} (not signed yet)"
            lines += [f'!!! success "{asked}: accepted on {shown.decided:%d %b %Y}"', f"    See {where}.", ""]
        elif shown.decision == "deny":
            lines += [f'!!! warning "{asked}: denied on {shown.decided:%d %b %Y}"']
            lines += ["    **Reason:**", "", *_indented(shown.words or "(not readable)"), ""]
        else:
            lines += [f'!!! quote "Client\'s statement of disagreement, {shown.decided:%d %b %Y}"']
            lines += [*_indented(shown.words or "(not readable)"), ""]
    return lines


def _demote(body: str) -> str:
    """The note's own text, its headings two levels down (under the month and the session).

    Raw HTML in a note is shown as text, never run: a note is data, not markup. Headings too:
    a shared note's ``<meta http-equiv="refresh">`` there sent the browser, with the site's
    secret address as Referer, to another local server."""
    out = []
    for line in body.splitlines():
        line = line.replace("<", "&lt;")
        out.append("##" + line if line.startswith("#") else line)
    return "\n".join(out)


def plan(t: Timeline) -> str:
    lines = ["# Treatment plan", "", "## Current goals", ""]
    goals = t.current_goals()
    for goal in goals:
        worked = t.sessions_for_goal(goal)
        lines.append(
            f"- **{_md(goal)}**: {count(len(worked), 'session')}"
            + (f", last {_link(worked[0])}" if worked else "")
        )
    if not goals:
        lines.append("None recorded.")
    source, objectives = t.plan()
    newest_plan = next((e for e in t.entries if e.kind == "treatment-plan"), None)
    if newest_plan is not None:
        lines += _plan_sections(newest_plan)
    lines += ["", "## Objectives", ""]
    if source is None:
        lines.append(
            "None recorded: a treatment plan's `objectives:` list them, with target dates and status."
        )
    else:
        lines += [
            f"From the plan of {_link(source)}.",
            "",
            "<table>",
            "<thead><tr><th>goal</th><th>objective</th><th>target date</th><th>status</th></tr></thead>",
            "<tbody>",
        ]
        for o in objectives:
            target = f"{o.target:%d %b %Y}" if o.target else "<em>none set</em>"
            lines.append(
                f"<tr><td>{escape(o.goal)}</td><td>{escape(o.objective)}</td><td>{target}</td>"
                f'<td class="cn-status-{escape(o.status.replace(" ", "-"))}">{escape(o.status)}</td></tr>'
            )
        lines += ["</tbody>", "</table>"]
    lines += ["", "## How the goals changed", ""]
    for day, changed, _ in reversed(t.goal_history()):
        lines.append(f"- {day:%d %b %Y}: " + "; ".join(_md(g) for g in changed))
    return "\n".join(lines) + "\n"


def _plan_sections(plan: Entry) -> list[str]:
    """The newest treatment plan's diagnosis and review date, as written in it."""
    lines = ["", "## Diagnosis or formulation", "", f"From the plan of {_link(plan)}{_draft(plan)}.", ""]
    diagnosis = section(plan.body, "Diagnosis or formulation").strip()
    lines.append(_demote(diagnosis) if diagnosis else "*None written.*")
    lines += ["", "## Review date", ""]
    review = plan.meta.get("review_date")
    if isinstance(review, dt.date):
        lines += [f"**Review date:** {review:%d %b %Y}", ""]
    written = section(plan.body, "Review date").strip()
    lines.append(_demote(written) if written else ("" if isinstance(review, dt.date) else "*None set.*"))
    return lines


def measures(t: Timeline) -> str:
    lines = ["# Measures", ""]
    series = t.measure_series()
    if not series:
        return "# Measures\n\nNo scores recorded.\n"
    for name, points in sorted(series.items()):
        title = SCALES.get(name, (name,))[0]
        change = points[-1][1] - points[0][1]
        lines += [
            f"## {_md(str(title))}",
            "",
            f"Baseline {points[0][1]:g} ({points[0][0]:%d %b %Y}), latest {points[-1][1]:g} "
            f"({points[-1][0]:%d %b %Y}): **{change:+g} since baseline**"
            + _reliably(name, points)
            + (f", now *{band_of(name, points[-1][1])}*." if band_of(name, points[-1][1]) else "."),
            "",
            line_chart(name, points),
            "",
        ]
    return "\n".join(lines) + "\n"


def _reliably(name: str, points: list[tuple[dt.date, float]]) -> str:
    """', reliable improvement' and the like, from the baseline to the latest score, where
    the instrument publishes a reliable-change threshold ('' where it does not)."""
    words = reliable_change(name, points[0][1], points[-1][1]) if len(points) > 1 else ""
    return f", {words}" if words else ""


def homework(t: Timeline) -> str:
    rows = t.homework()
    if not rows:
        return "# Homework\n\nNone set.\n"
    lines = [
        "# Homework",
        "",
        "<table>",
        "<thead><tr><th>set</th><th>homework</th><th>done?</th><th>followed up</th></tr></thead>",
        "<tbody>",
    ]
    for entry, item, following in rows:
        follow = _a(following) if following else "<em>next session</em>"
        done = homework_done(item, following)
        shown = {"done": "<strong>done</strong>", "not done": "not done"}.get(done, f"<em>{done}</em>")
        lines.append(f"<tr><td>{_a(entry)}</td><td>{escape(item)}</td><td>{shown}</td><td>{follow}</td></tr>")
    return "\n".join([*lines, "</tbody>", "</table>"]) + "\n"


def themes(t: Timeline) -> str:
    found = t.themes()
    if not found:
        return "# Themes\n\nNo tags recorded.\n"
    lines = ["# Themes", "", "Tags and recurring topics across sessions.", "", "<ul>"]
    for tag, entries in found.items():
        more = " …" if len(entries) > 12 else ""
        lines.append(
            f"<li><strong>{escape(tag)}</strong> ({len(entries)}): {', '.join(_a(e) for e in entries[:12])}{more}</li>"
        )
    return "\n".join([*lines, "</ul>"]) + "\n"


def todo(t: Timeline) -> str:
    """What needs the practitioner (site_builder.todo), each item linked to its note."""
    found = needs(t)
    lines = ["# To do", "", f"What needs you in this record, as of {t.today:%d %b %Y}.", ""]
    if not found:
        return "\n".join([*lines, "Nothing: every note is signed, and nothing is past its date."]) + "\n"
    for what, heading in HEADINGS.items():
        items = [item for item in found if item.what == what]
        if items:
            lines += [f"## {heading}", ""]
            lines += [
                f"- {_md(item.text)}" + (f" ({_link(item.entry)})" if item.entry is not None else "")
                for item in items
            ]
            lines.append("")
    return "\n".join(lines) + "\n"


def page_names(t: Timeline) -> list[str]:
    """The path under docs/ of every page of the site, in site order."""
    return [path for _, path in NAV] + list(_months(t))


def pages_named(t: Timeline, names: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(path under docs/, Markdown) of the pages named (each process of a build writes its own)."""
    months: dict[str, list[Entry]] | None = None
    for name in names:
        if name in _NAV_PAGES:
            yield name, _NAV_PAGES[name](t)
        else:
            months = months or _months(t)
            entries = months[name]
            title = f"# Sessions of {entries[0].date:%B %Y}\n\n"
            yield name, title + "\n---\n\n".join(session(t, entry) for entry in entries)


def all_pages(t: Timeline) -> Iterator[tuple[str, str]]:
    """(path under docs/, Markdown) for every page of the site."""
    return pages_named(t, page_names(t))


def weights(t: Timeline) -> dict[str, int]:
    """About how long each page's Markdown will be, before it is written (to share the work
    of two processes): a month page its sessions' text, a list page a line per session."""
    per_session = {"timeline.md": 280, "plan.md": 70, "measures.md": 210, "homework.md": 225, "themes.md": 3}
    found = {path: per_session.get(path, 0) * len(t.entries) for _, path in NAV}
    for path, entries in _months(t).items():
        found[path] = sum(400 + len(entry.body) for entry in entries)
    return found


def _months(t: Timeline) -> dict[str, list[Entry]]:
    months: dict[str, list[Entry]] = {}
    for entry in t.entries:  # newest first, within each month too
        months.setdefault(session_path(entry), []).append(entry)
    return months


_NAV_PAGES = {
    "index.md": overview,
    "timeline.md": timeline,
    "plan.md": plan,
    "measures.md": measures,
    "homework.md": homework,
    "themes.md": themes,
    "todo.md": todo,
}
