"""Fault injection and load: the code behind ``helse-qa reliability`` and its tests.

Every trial uses the real pieces: ``helse-qa ingest`` in a child process killed with
SIGKILL, the real parser on damaged files, the real Assistant on hostile questions, and
the real Gradio app driven by concurrent ``gradio_client`` sessions. The tests run the
same functions with fewer trials and assert on the results; the command writes them to
``eval/results/reliability.md``.
"""

from __future__ import annotations

import html
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helse_qa.config import Settings
from helse_qa.evaluation.measure import free_port, nearest_rank
from helse_qa.models.embedding import Embedder

log = logging.getLogger(__name__)

MARKER = "ingest: started"
# Markup that must reach the page as text: escaped in the paragraph, live tags around it.
XSS_HTML = (
    "<html><body><p>{nb} &lt;script&gt;alert(1)&lt;/script&gt; "
    "&lt;img src=x onerror=alert(2)&gt;</p><script>alert(3)</script>"
    "<img src=x onerror=alert(4)></body></html>"
)


# -- 1. killed ingests ---------------------------------------------------------------------


@dataclass(frozen=True)
class KillTrial:
    number: int
    rebuild: bool
    delay_s: float
    killed: bool  # False: the ingest finished before the kill was due
    published: bool  # the generation changed (the kill came after the atomic switch)
    consistent: bool  # helse-qa doctor found no error
    answered: bool  # the control question was answered from the expected document
    lost: tuple[str, ...]  # documents of the previous index missing afterwards
    problems: tuple[str, ...]


@dataclass(frozen=True)
class KillReport:
    trials: tuple[KillTrial, ...]
    final_ok: bool
    final_consistent: bool
    final_problems: tuple[str, ...]
    calibration_s: dict[str, float]

    @property
    def kills(self) -> int:
        return sum(t.killed for t in self.trials)

    @property
    def errors(self) -> int:
        return sum(len(t.problems) for t in self.trials) + len(self.final_problems)

    @property
    def lost(self) -> int:
        return sum(len(t.lost) for t in self.trials)


def _ingest_command(settings: Settings, rebuild: bool) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "helse_qa",
        "-v",
        "--documents-dir",
        str(settings.documents_dir),
        "--index-dir",
        str(settings.index_dir),
        "ingest",
        "--no-progress",
    ]
    return [*cmd, "--rebuild"] if rebuild else cmd


class _Child:
    """``helse-qa ingest`` in a child process; ``started`` is set when the ingest begins
    (after imports and model loading), which is when the kill clock starts."""

    def __init__(self, cmd: list[str], chroma_url: str | None = None) -> None:
        self.started = threading.Event()
        self.lines: list[str] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if chroma_url:
            env["HELSE_QA_CHROMA_URL"] = chroma_url
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if MARKER in line:
                self.started.set()
        self.started.set()  # the process ended (e.g. an error before the marker)

    def wait(self, timeout: float = 600) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc


def _doc_hashes(settings: Settings) -> dict[str, str]:
    from helse_qa.storage.layout import IndexLayout, read_manifest

    current = IndexLayout(settings.index_dir).current()
    if current is None:
        return {}
    return {d: e.content_hash for d, e in read_manifest(current).documents.items()}


def _run_child(settings: Settings, rebuild: bool) -> tuple[int, float, list[str]]:
    child = _Child(_ingest_command(settings, rebuild), settings.chroma_url)
    child.started.wait(600)
    t0 = time.perf_counter()
    rc = child.wait()
    return rc, time.perf_counter() - t0, child.lines


def kill_loop(
    base: Settings,
    documents: Path,
    workdir: Path,
    embedder: Embedder,
    *,
    kills: int,
    question: str,
    expect: str,
    seed: int = 7,
    rebuild_every: int = 3,
    on_trial: Callable[[KillTrial], None] | None = None,
    delay_fraction: float = 1.0,
    until_landed: bool = False,
) -> KillReport:
    """SIGKILL ``helse-qa ingest`` at random points ``kills`` times, checking each time that
    the index still answers ``question`` (with ``expect`` in the answer), that nothing of the
    previous index was lost and that ``helse-qa doctor`` finds no disagreement; then run
    one ingest to the end.

    Kill times are drawn uniformly over ``delay_fraction`` of an uninterrupted ingest's
    duration: 1.0 (the report) also hits the end of an ingest, its commit included; a test
    that needs every kill to land while the ingest runs uses less, and ``until_landed``:
    an ingest that ended before its kill is recorded as a trial (not killed) and another
    trial follows, with half the delay each time, until ``kills`` kills have landed (at most
    three times as many trials)."""
    from helse_qa.assistant import Assistant
    from helse_qa.ingest import doctor
    from helse_qa.ingest.pipeline import ingest

    rng = random.Random(seed)
    docs = workdir / "documents"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(documents, docs)
    settings = base.model_copy(update={"documents_dir": docs, "index_dir": workdir / "index"})
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    ingest(settings, embedder)
    cycle_file = docs / "syklus.txt"

    def change(n: int) -> None:
        cycle_file.write_text(
            f"Syklus {n}\n\nI syklus {n} ble det registrert {1000 + n} nye arbeidsplasser "
            "i helseindustrien.\n",
            encoding="utf-8",
        )

    # How long an uninterrupted ingest takes (from its start marker), per kind.
    calibration: dict[str, float] = {}
    for rebuild in (False, True):
        change(-1 if rebuild else -2)
        rc, seconds, lines = _run_child(settings, rebuild)
        if rc != 0:
            raise RuntimeError("calibration ingest failed: " + " | ".join(lines[-5:]))
        calibration["rebuild" if rebuild else "incremental"] = seconds

    trials: list[KillTrial] = []
    scale = 1.0
    for n in range(3 * kills if until_landed else kills):
        if until_landed and sum(t.killed for t in trials) >= kills:
            break
        rebuild = rebuild_every > 0 and n % rebuild_every == rebuild_every - 1
        before_gen = _current_name(settings)
        before = _doc_hashes(settings)
        change(n)
        duration = calibration["rebuild" if rebuild else "incremental"]
        delay = rng.uniform(0, delay_fraction * duration) * scale
        child = _Child(_ingest_command(settings, rebuild), settings.chroma_url)
        child.started.wait(600)
        time.sleep(delay)
        killed = child.proc.poll() is None
        if killed:
            child.proc.send_signal(signal.SIGKILL)
        else:
            scale /= 2  # it ran faster than calibrated: the next kill comes sooner
        child.wait()
        problems: list[str] = []
        report = doctor.check(settings, embedder)
        problems += [
            f"doctor: {f.code}: {f.message}" for f in report.findings if f.severity == "error"
        ]
        after = _doc_hashes(settings)
        lost = tuple(d for d, h in before.items() if d != "syklus" and after.get(d) != h)
        answered = False
        try:
            assistant = Assistant.open(settings, embedder=embedder)
            try:
                answer = assistant.ask(question)
                answered = not answer.abstained and expect in answer.text
            finally:
                assistant.close()
        except Exception as exc:  # recorded, not raised: the report counts it
            problems.append(f"ask: {type(exc).__name__}: {exc}")
        if not answered and not problems:
            problems.append("the control question was not answered")
        trial = KillTrial(
            number=n + 1,
            rebuild=rebuild,
            delay_s=round(delay, 3),
            killed=killed,
            published=_current_name(settings) != before_gen,
            consistent=report.ok,
            answered=answered,
            lost=lost,
            problems=tuple(problems),
        )
        trials.append(trial)
        if on_trial is not None:
            on_trial(trial)

    change(len(trials))
    final_problems: list[str] = []
    rc, _, lines = _run_child(settings, False)
    if rc != 0:
        final_problems.append("final ingest failed: " + " | ".join(lines[-3:]))
    final = doctor.check(settings, embedder)
    final_problems += [f"doctor: {f.code}: {f.message}" for f in final.findings]
    from helse_qa.ingest.readers import content_hash

    if _doc_hashes(settings).get("syklus") != content_hash(cycle_file.read_bytes()):
        final_problems.append("the final ingest did not index the latest change")
    return KillReport(tuple(trials), rc == 0, final.clean, tuple(final_problems), calibration)


def _current_name(settings: Settings) -> str | None:
    from helse_qa.storage.layout import IndexLayout

    current = IndexLayout(settings.index_dir).current()
    return current.name if current else None


# -- 2. bad documents ----------------------------------------------------------------------


@dataclass(frozen=True)
class BadDocument:
    name: str
    case: str
    expected: str  # "ingested" or "skipped"
    outcome: str
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and (self.outcome == "ingested" or bool(self.message))


def _encrypted_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("hemmelig", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def bad_document_cases(
    big_mb: int = 50,
) -> list[tuple[str, str, str, bytes | Callable[[Path], None]]]:
    """(file name, case, expected outcome, bytes or a writer) for every damaged input."""
    nb = "Helseindustrien i Norge eksporterte for 23,6 milliarder kroner i 2017."

    def big(path: Path) -> None:
        line = (nb + " ").encode() * 2000 + b"\n"
        with path.open("wb") as fh:
            for _ in range(big_mb * 1024 * 1024 // len(line) + 1):
                fh.write(line)

    return [
        ("tom.txt", "empty file", "skipped", b""),
        ("blank.md", "only whitespace", "skipped", b" \n\n\t \n"),
        ("bilde.txt", "binary data with a .txt name", "skipped", bytes(range(256)) * 40),
        (
            "ugyldig.txt",
            "invalid UTF-8",
            "ingested",
            "Søknad om støtte: ".encode() + b"\xff\xfe\xc3(" + nb.encode(),
        ),
        (
            "cp1252.txt",
            "cp1252 Norwegian",
            "ingested",
            ("Tromsø og Ålesund – «klynger» " + nb).encode("cp1252"),
        ),
        (
            "latin1.txt",
            "latin-1 Norwegian",
            "ingested",
            ("Bodø, Førde og Årdal. " + nb).encode("latin-1"),
        ),
        (
            "odelagt.pdf",
            "corrupt PDF",
            "skipped",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage",
        ),
        ("kryptert.pdf", "encrypted PDF", "skipped", _encrypted_pdf()),
        ("odelagt.docx", "corrupt .docx", "skipped", b"PK\x03\x04 truncated zip"),
        ("stor.txt", f"{big_mb} MB text file", "skipped", big),
        ("nul.txt", "NUL bytes inside text", "ingested", (nb + "\x00 Mer tekst\x00 her.").encode()),
        (
            "lang-linje.txt",
            "one 100 000-character line",
            "ingested",
            (("ord " * 25_000) + nb).encode(),
        ),
        (
            "langt-ord.txt",
            "100 000 characters without a space",
            "ingested",
            b"x" * 100_000 + b"\n\n" + nb.encode(),
        ),
        (
            "nestet.html",
            "HTML nested 20 000 deep",
            "ingested",
            (
                "<html><body>"
                + "<div>" * 20000
                + f"<p>{nb}</p>"
                + "</div>" * 20000
                + "</body></html>"
            ).encode(),
        ),
        (
            "xss.html",
            "HTML with <script> and onerror",
            "ingested",
            XSS_HTML.format(nb=nb).encode(),
        ),
        ("ukjent.exe", "unsupported extension", "skipped", b"MZ\x90\x00"),
    ]


def bad_documents(
    base: Settings, workdir: Path, embedder: Embedder, big_mb: int = 50
) -> tuple[list[BadDocument], float, bool]:
    """Ingest a folder of damaged files next to a good one; returns each file's outcome,
    the ingest time, and whether the good document was indexed and answerable."""
    from helse_qa.assistant import Assistant
    from helse_qa.ingest.pipeline import ingest

    docs = workdir / "documents"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    (docs / "god.md").write_text(
        "# Godt dokument\n\nKlyngen Norway Health Tech har 370 medlemmer.\n", encoding="utf-8"
    )
    cases = bad_document_cases(big_mb)
    for name, _case, _expected, data in cases:
        if isinstance(data, bytes):
            (docs / name).write_bytes(data)
        else:
            data(docs / name)
    settings = base.model_copy(update={"documents_dir": docs, "index_dir": workdir / "index"})
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    t0 = time.perf_counter()
    report = ingest(settings, embedder)
    seconds = time.perf_counter() - t0
    skipped = dict(report.skipped)
    indexed = set(report.added)
    results = []
    for name, case, expected, _ in cases:
        stem = Path(name).stem
        outcome = "skipped" if name in skipped else "ingested" if stem in indexed else "missing"
        results.append(BadDocument(name, case, expected, outcome, skipped.get(name, "")))
    assistant = Assistant.open(settings, embedder=embedder)
    try:
        # Limited to the good document: the big bad file's many near-identical chunks tie
        # with each other, and which of them fill the top 5 varied from run to run (the
        # fresh-clone make test once lost the good passage that way); what is checked is
        # that the good document was indexed and answers, not how it ranks among junk.
        question = "Hvor mange medlemmer har Norway Health Tech?"
        good = "370" in assistant.ask(question, doc_ids=["god"]).text
    finally:
        assistant.close()
    return results, seconds, good


# -- 3. bad questions ----------------------------------------------------------------------


def bad_questions() -> list[tuple[str, str]]:
    """(case, question) pairs: hostile, empty, huge and odd input."""
    return [
        ("empty", ""),
        ("whitespace", "   \n\t  "),
        ("100k characters", "eksport " * 12_500),
        ("control characters", "Hvor\x00 store\x07 var\x1b[31m eksportinntektene\x08 i 2017?"),
        ("only punctuation", "?!?!... ,,, ;;; ---"),
        ("SQL", "'; DROP TABLE chunks; -- SELECT * FROM manifest WHERE 1=1"),
        ("HTML", "<b>Hvor</b> store var <i>eksportinntektene</i>?"),
        ("script", "<script>alert('x')</script><img src=x onerror=alert(1)>"),
        ("emoji", "🏥💊🇳🇴 Hvor mange medlemmer? 🤔"),
        ("Cyrillic", "Сколько членов будет в объединённом кластере?"),
        ("Chinese", "挪威卫生产业的出口收入是多少？"),
        ("right-to-left", "كم عدد الأعضاء في المجموعة؟"),
        ("one character", "?"),
        ("markdown", "**[klikk](javascript:alert(1))** `kode` # overskrift"),
        ("template", "{{7*7}} ${jndi:ldap://x} %s%s%s"),
        ("mixed scripts", "Hvor mange medlemmer har klyngen? Сколько? 多少?"),
    ]


@dataclass(frozen=True)
class QuestionOutcome:
    case: str
    length: int
    outcome: str  # "answered", "abstained", "refused", "crash"
    message: str


def ask_bad_questions(assistant: Any) -> list[QuestionOutcome]:
    """Every bad question through ``Assistant.ask``: a refusal (QuestionError), an answer
    or an abstention are fine; anything else is a crash."""
    from helse_qa.errors import QuestionError

    out = []
    for case, question in bad_questions():
        try:
            answer = assistant.ask(question)
            outcome = "abstained" if answer.abstained else "answered"
            message = answer.text[:80]
        except QuestionError as exc:
            outcome, message = "refused", str(exc)
        except Exception as exc:  # the finding this harness exists for
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        out.append(QuestionOutcome(case, len(question), outcome, message))
    return out


# -- 4. concurrent clients -----------------------------------------------------------------


@dataclass
class LoadReport:
    clients: int
    seconds: float
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    misrouted: int = 0
    latencies: list[float] = field(default_factory=list)
    upload_seconds: float | None = None
    upload_message: str = ""
    after_upload_answered: int = 0
    sessions: int = 0
    # Where the time goes (issue 14): the server's time inside Assistant.ask_stream per
    # answer (when load_test was given the assistant), the bytes of the chat and sources
    # panel returned per turn of a conversation, this process's CPU seconds during the load
    # (the app's too when it runs in this process) and, when the app was started with
    # GRADIO_PROFILING=1, Gradio's own per-answer phases (queue wait, call, total) in ms.
    answer_seconds: list[float] = field(default_factory=list)
    payload_bytes: dict[int, list[int]] = field(default_factory=dict)
    cpu_seconds: float | None = None
    gradio_phases_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the answer latencies, in seconds."""
        return nearest_rank(self.latencies, q) if self.latencies else float("nan")

    def summary(self) -> str:
        """One line: answers, errors, latency and where it goes (what was measured)."""
        line = (
            f"{self.requests} answers in {self.seconds:.0f} s "
            f"({60 * self.requests / self.seconds:.0f}/min), {len(self.errors)} errors, "
            f"{self.misrouted} misrouted; latency p50 {self.percentile(0.5):.2f} s, "
            f"p95 {self.percentile(0.95):.2f} s"
        )
        if self.answer_seconds:
            line += (
                f"; inside Assistant.ask p50 {nearest_rank(self.answer_seconds, 0.5):.3f} s, "
                f"p95 {nearest_rank(self.answer_seconds, 0.95):.3f} s"
            )
        if self.cpu_seconds is not None and self.requests:
            line += f"; CPU {1000 * self.cpu_seconds / self.requests:.0f} ms/answer"
        for name, phase in self.gradio_phases_ms.items():
            line += f"; gradio {name} p50 {phase['p50']:.0f} ms p95 {phase['p95']:.0f} ms"
        return line


LOAD_QUESTIONS = [
    "Hvor store var eksportinntektene i 2017?",
    "How many members will the merged cluster have?",
    "Hvem sitter i styringsgruppen for prosjektet?",
    "What is the root problem for building a Norwegian health industry?",
    "Hva er helseindustriens samlede omsetning?",
    "Which clusters are merging?",
]


def load_test(
    url: str,
    *,
    clients: int,
    seconds: float,
    upload: Path | None = None,
    upload_after: float = 5.0,
    upload_question: tuple[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    turns_per_session: int = 8,
    assistant: Any = None,
) -> LoadReport:
    """``clients`` gradio_client sessions chat through the app's /respond endpoint for
    ``seconds``; one more session uploads ``upload`` after ``upload_after`` seconds.

    Each session checks, after every answer, that its conversation holds exactly its own
    questions, in order, and that the sources panel belongs to its latest question. With
    ``assistant`` (the app's, in this process) the time inside its ``ask_stream`` is
    recorded per answer.
    """
    import json
    import ssl

    from gradio_client import Client, handle_file

    report = LoadReport(clients, seconds)
    lock = threading.Lock()
    upload_done = threading.Event()
    # One TLS context for every client: gradio_client otherwise has httpx build one (and
    # parse the CA bundle, ~50 ms of CPU) for every request and every new session, which on
    # a shared machine is CPU taken from the app (issue 14). Certificates are still checked.
    tls: Any = ssl.create_default_context()

    def connect() -> Any:
        return Client(url, verbose=False, auth=auth, ssl_verify=tls)

    timed = _time_answers(assistant, report, lock) if assistant is not None else None
    wall_start, cpu_start = time.time(), os.times()
    deadline = time.monotonic() + seconds

    def session(n: int) -> None:
        client: Any = None
        sent: list[str] = []
        chat: list[Any] = []
        i = 0
        while time.monotonic() < deadline:
            if client is None or len(sent) >= turns_per_session:
                try:  # a new browser session: a new, empty conversation
                    client = connect()
                except Exception as exc:  # counted, not raised
                    with lock:
                        report.errors.append(f"client {n}: connect: {type(exc).__name__}: {exc}")
                    return
                sent, chat = [], []
                with lock:
                    report.sessions += 1
            # Every third question after the upload asks about the uploaded document.
            base, expected = LOAD_QUESTIONS[(n + i) % len(LOAD_QUESTIONS)], None
            if upload_question is not None and upload_done.is_set() and i % 3 == 2:
                base, expected = upload_question
            question = f"{base} (klient {n}, nr {i})"
            t0 = time.perf_counter()
            try:
                chat, panel, _ = client.predict(question, chat, [], 5, "Norsk", api_name="/respond")
            except Exception as exc:  # counted, not raised
                with lock:
                    report.errors.append(f"client {n}: {type(exc).__name__}: {str(exc)[:200]}")
                client = None
                i += 1
                continue
            elapsed = time.perf_counter() - t0
            sent.append(question)
            # The sources panel is rendered from the server-side conversation of this
            # session: its turn headings must be exactly this client's questions.
            ok = turn_questions(panel) == sent[::-1]
            size = len(json.dumps([chat, panel], ensure_ascii=False).encode())
            with lock:
                report.requests += 1
                report.latencies.append(elapsed)
                report.payload_bytes.setdefault(len(sent), []).append(size)
                if not ok:
                    report.misrouted += 1
                if expected is not None and expected in _plain(chat[-1]["content"]):
                    report.after_upload_answered += 1
            i += 1

    def uploader() -> None:
        assert upload is not None
        time.sleep(upload_after)
        try:
            client = connect()
            t0 = time.perf_counter()
            result = client.predict([handle_file(str(upload))], "English", [], api_name="/upload")
            report.upload_seconds = time.perf_counter() - t0
            report.upload_message = str(result[1])
        except Exception as exc:  # counted, not raised
            with lock:
                report.errors.append(f"upload: {type(exc).__name__}: {exc}")
        finally:
            upload_done.set()

    threads = [threading.Thread(target=session, args=(n,)) for n in range(clients)]
    if upload is not None:
        threads.append(threading.Thread(target=uploader))
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join(seconds + 300)
    finally:
        if timed is not None:
            timed()
    cpu_end = os.times()
    report.cpu_seconds = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    report.gradio_phases_ms = _gradio_phases(url, wall_start, auth, tls)
    return report


def _time_answers(assistant: Any, report: LoadReport, lock: threading.Lock) -> Callable[[], None]:
    """Record the time of every ``assistant.ask_stream`` run in ``report.answer_seconds``;
    returns the function that stops recording."""
    original = assistant.ask_stream

    def ask_stream(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        yield from original(*args, **kwargs)
        with lock:
            report.answer_seconds.append(time.perf_counter() - t0)

    assistant.ask_stream = ask_stream  # the instance's own, in front of the method
    return lambda: vars(assistant).pop("ask_stream", None)


def _gradio_phases(
    url: str, since: float, auth: tuple[str, str] | None, tls: Any
) -> dict[str, dict[str, float]]:
    """Gradio's per-answer phases of the chat endpoint since ``since`` (epoch seconds),
    when the app was started with GRADIO_PROFILING=1 (empty otherwise): p50/p95 in ms."""
    import httpx

    try:
        with httpx.Client(verify=tls, timeout=30) as http:
            if auth is not None:  # the app's login form sets the session cookie
                http.post(f"{url}login", data={"username": auth[0], "password": auth[1]})
            reply = http.get(f"{url}gradio_api/profiling/traces")
    except httpx.HTTPError:
        return {}
    if reply.status_code != 200:
        return {}
    traces = [t for t in reply.json() if t["fn_name"] == "respond" and t["timestamp"] >= since]
    phases: dict[str, dict[str, float]] = {}
    for phase in ("queue_wait", "preprocess", "fn_call", "postprocess", "total"):
        values = [float(t[f"{phase}_ms"]) for t in traces]
        if values:
            phases[phase] = {"p50": nearest_rank(values, 0.5), "p95": nearest_rank(values, 0.95)}
    return phases


_TURN_HEADING = re.compile(
    r'<details class="turn"[^>]*><summary>[^<]*<span class="q">(.*?)</span>', re.S
)


def turn_questions(panel: str) -> list[str]:
    """The questions of a rendered sources panel, newest first."""
    return [html.unescape(q) for q in _TURN_HEADING.findall(panel)]


def upload_document(folder: Path, paragraphs: int = 80) -> Path:
    """A document to upload during the load test: one findable fact and enough other text
    (~80 paragraphs) that its ingest takes several seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Tromsø-studien 2025", "", "I Tromsø-studien deltok 4321 pasienter i 2025.", ""]
    for i in range(paragraphs):
        lines += [
            f"Avsnitt {i}: Helseklynge {i} i region {i % 7} rapporterte {i * 13} ansatte og "
            f"{i * 3} nye produkter i {2000 + i % 25}. Klyngen samarbeider med {i % 5 + 2} "
            "sykehus om utprøving av medisinsk utstyr.",
            "",
        ]
    path = folder / "Tromsø-studien (utkast).txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _plain(rendered: Any) -> str:
    """Text of a rendered chat message or HTML panel, for comparisons."""
    if isinstance(rendered, list):  # Gradio 6 message content: a list of parts
        rendered = " ".join(
            str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in rendered
        )
    text = re.sub(r"<[^>]+>", "", str(rendered))
    text = html.unescape(text)
    return re.sub(r"\\([\\`*_{}\[\]()#+!|>~-])", r"\1", text)


# -- 5. web surface ------------------------------------------------------------------------


@dataclass(frozen=True)
class WebCheck:
    check: str
    result: str
    ok: bool


def web_checks(settings: Settings, embedder: Embedder, workdir: Path) -> list[WebCheck]:
    """Loopback default, login, upload names/types/sizes and escaping, on a running app."""
    from gradio_client import Client

    from helse_qa.assistant import Assistant
    from helse_qa.web.app import MAX_UPLOAD_BYTES, ChatApp, launch, safe_upload_name
    from helse_qa.web.render import sources_html

    checks: list[WebCheck] = []
    host = str(Settings.model_fields["host"].default)
    checks.append(WebCheck("default bind address", host, host == "127.0.0.1"))

    docs = workdir / "documents"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(settings.documents_dir, docs)
    (docs / "xss.html").write_text(
        XSS_HTML.format(nb="Pilotprosjektet i Hamar hadde 17 deltakere."), encoding="utf-8"
    )
    local = settings.model_copy(
        update={"documents_dir": docs, "index_dir": workdir / "index", "auth": "test:hemmelig"}
    )
    assistant = Assistant.open(local, embedder=embedder, ingest_if_missing=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    demo = launch(assistant, port=port, block=False, auth=local.auth_pairs())
    try:
        for label, auth in (
            ("no login", None),
            ("wrong password", ("test", "feil")),
            ("unknown user", ("ukjent", "hemmelig")),
        ):
            try:
                Client(url, verbose=False, auth=auth).predict("x", [], [], 5, api_name="/ask")
                checks.append(WebCheck(f"login required ({label})", "answered", False))
            except Exception as exc:  # refused: the expected outcome
                checks.append(
                    WebCheck(f"login required ({label})", f"refused ({type(exc).__name__})", True)
                )
        client = Client(url, verbose=False, auth=("test", "hemmelig"))
        r = client.predict(
            "Hvor mange deltakere hadde pilotprosjektet i Hamar?", [], [], 5, api_name="/ask"
        )
        checks.append(WebCheck("correct login", "answered", "17" in r["answer"]))
        panel = sources_html([{"answer": r}], "nb")
        live = live_markup(panel)
        shown = "&lt;script&gt;alert(1)&lt;/script&gt;" in panel
        checks.append(
            WebCheck(
                "document markup in the sources panel",
                "escaped, shown as text" if not live and shown else f"live: {live}",
                not live and shown,
            )
        )
    finally:
        demo.close()
        assistant.close()

    app = ChatApp(Assistant.open(local, embedder=embedder))
    for original in (
        "../../etc/passwd.txt",
        "..\\..\\boot.ini.md",
        "/abs/path/ok.pdf",
        "x.txt\x00.exe",
    ):
        name = safe_upload_name(original, b"data")
        ok = "/" not in name and "\\" not in name and ".." not in name and "\x00" not in name
        checks.append(WebCheck(f"upload name {original!r}", name, ok))
    bad = workdir / "program.exe"
    bad.write_bytes(b"MZ")
    try:
        app.upload([str(bad)])
        checks.append(WebCheck("upload of .exe", "accepted", False))
    except Exception as exc:  # refused: the expected outcome
        checks.append(WebCheck("upload of .exe", str(exc), True))
    big = workdir / "stor.txt"
    with big.open("wb") as fh:
        fh.truncate(MAX_UPLOAD_BYTES + 1)
    try:
        app.upload([str(big)])
        checks.append(WebCheck("upload over the size limit", "accepted", False))
    except Exception as exc:  # refused: the expected outcome
        checks.append(WebCheck("upload over the size limit", str(exc), True))
    app.assistant.close()
    return checks


# -- the report ----------------------------------------------------------------------------


def run_report(
    settings: Settings,
    embedder: Embedder,
    out: Path,
    *,
    kills: int = 30,
    clients: int = 20,
    seconds: float = 60,
    seed: int = 7,
) -> Path:
    """Run every part and write ``reliability.md`` and ``reliability.json`` to ``out``."""
    import json
    import platform
    import tempfile
    from dataclasses import asdict

    from tqdm import tqdm

    from helse_qa.assistant import Assistant
    from helse_qa.web.app import launch

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="helse-qa-reliability-") as tmp:
        root = Path(tmp)
        log.warning("1/6 killing ingests (%d kills)", kills)
        bar = tqdm(total=kills, desc="kills", unit="kill")
        kill = kill_loop(
            settings,
            settings.documents_dir,
            root / "kill",
            embedder,
            kills=kills,
            seed=seed,
            question="How many members will the merged cluster have?",
            expect="370",
            on_trial=lambda _t: bar.update(1),
        )
        bar.close()
        log.warning("2/6 bad documents")
        bad, bad_seconds, good = bad_documents(settings, root / "bad", embedder)
        log.warning("3/6 bad questions")
        corpus = settings.model_copy(
            update={
                "index_dir": root / "kill" / "index",
                "documents_dir": root / "kill" / "documents",
            }
        )
        assistant = Assistant.open(corpus, embedder=embedder)
        questions = ask_bad_questions(assistant)
        log.warning("4/6 %d clients for %.0f s during an upload", clients, seconds)
        port = free_port()
        demo = launch(assistant, port=port, block=False)
        try:
            ui_questions = _bad_questions_via_ui(f"http://127.0.0.1:{port}/")
            load = load_test(
                f"http://127.0.0.1:{port}/",
                clients=clients,
                seconds=seconds,
                upload=upload_document(root / "upload"),
                upload_question=("Hvor mange pasienter deltok i Tromsø-studien?", "4321"),
                assistant=assistant,
            )
        finally:
            demo.close()
            assistant.close()
        log.warning("5/6 web surface")
        web = web_checks(settings, embedder, root / "web")
        log.warning("6/6 vector store location (real chroma run servers)")
        from helse_qa.evaluation.store_cases import store_cases

        stores = store_cases(settings, embedder, root / "stores")

    data = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "kill": {
            "trials": [asdict(t) for t in kill.trials],
            "kills": kill.kills,
            "published_before_kill": sum(t.published for t in kill.trials if t.killed),
            "inconsistent": sum(not t.consistent for t in kill.trials),
            "unanswered": sum(not t.answered for t in kill.trials),
            "documents_lost": kill.lost,
            "errors": kill.errors,
            "final_ok": kill.final_ok,
            "final_consistent": kill.final_consistent,
            "final_problems": list(kill.final_problems),
            "calibration_s": kill.calibration_s,
        },
        "bad_documents": {
            "cases": [asdict(b) | {"ok": b.ok} for b in bad],
            "seconds": round(bad_seconds, 1),
            "good_document_answered": good,
        },
        "bad_questions": {
            "assistant": [asdict(q) for q in questions],
            "web": ui_questions,
        },
        "load": {
            "clients": load.clients,
            "seconds": load.seconds,
            "requests": load.requests,
            "sessions": load.sessions,
            "errors": load.errors,
            "misrouted": load.misrouted,
            "p50_s": round(load.percentile(0.5), 3),
            "p95_s": round(load.percentile(0.95), 3),
            "max_s": round(max(load.latencies, default=float("nan")), 3),
            "upload_s": round(load.upload_seconds or float("nan"), 1),
            "upload_message": load.upload_message,
            "answered_from_upload": load.after_upload_answered,
            "answer_p50_s": round(nearest_rank(load.answer_seconds, 0.5), 3)
            if load.answer_seconds
            else None,
            "answer_p95_s": round(nearest_rank(load.answer_seconds, 0.95), 3)
            if load.answer_seconds
            else None,
            "payload_bytes": {
                str(turn): round(nearest_rank(sizes, 0.5))
                for turn, sizes in sorted(load.payload_bytes.items())
            },
            "cpu_ms_per_answer": round(1000 * (load.cpu_seconds or 0) / max(load.requests, 1)),
            "gradio_phases_ms": load.gradio_phases_ms,
        },
        "web": [asdict(w) for w in web],
        "stores": [asdict(c) for c in stores],
    }
    (out / "reliability.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    path = out / "reliability.md"
    kept = kept_sections(path.read_text(encoding="utf-8")) if path.exists() else ""
    path.write_text(_markdown(data) + kept, encoding="utf-8")
    return path


# Hand-written sections of reliability.md (measurements made once, by hand, with their own
# commands) that a new run keeps, after its own sections.
KEPT_SECTIONS = ("## Load test: where the time goes (issue 14)",)


def kept_sections(previous: str) -> str:
    """The :data:`KEPT_SECTIONS` of a previous report, each up to the next ``## `` heading."""
    kept = []
    for heading in KEPT_SECTIONS:
        start = previous.find("\n" + heading + "\n")
        if start < 0:
            continue
        end = previous.find("\n## ", start + 1)
        kept.append(previous[start + 1 : end if end >= 0 else None].rstrip() + "\n")
    return "".join("\n" + k for k in kept)


# The tags and attributes the app itself writes into the chat and the sources panel.
APP_MARKUP = {
    "details": {"class", "id", "open"},
    "summary": set(),
    "div": {"class"},
    "mark": {"id"},
    "span": {"class", "title", "id"},
    "a": {"href", "class"},
    "p": {"class"},
    "br": set(),
}


def live_markup(rendered: str) -> list[str]:
    """Tags or attributes in ``rendered`` that the app did not write itself (empty when
    all document and question text arrived escaped)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            allowed = APP_MARKUP.get(tag)
            if allowed is None:
                found.append(f"<{tag}>")
                return
            for name, value in attrs:
                if name not in allowed:
                    found.append(f"<{tag} {name}>")
                elif name == "href" and not (value or "").startswith("#src-"):
                    found.append(f"<{tag} href={value}>")

    collector = Collector(convert_charrefs=True)
    collector.feed(rendered)
    collector.close()
    return found


def _bad_questions_via_ui(url: str) -> list[dict[str, Any]]:
    """Every bad question through the chat endpoint: an answer or one clear error line."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    rows = []
    for case, question in bad_questions():
        try:
            chat, panel, _ = client.predict(question, [], [], 5, "Norsk", api_name="/respond")
            content = chat[-1]["content"]
            text = _plain(content)
            shown = content if isinstance(content, str) else str(content)
            live = live_markup(panel) + live_markup(shown)
            outcome = f"LIVE MARKUP {live}" if live else "reply shown"
            rows.append({"case": case, "outcome": outcome, "message": text[:70], "ok": not live})
        except Exception as exc:  # gradio_client's AppError carries the message shown
            message = str(exc)
            ok = "Traceback" not in message and len(message) < 300
            rows.append(
                {"case": case, "outcome": "error shown", "message": message[:120], "ok": ok}
            )
    return rows


def _markdown(d: dict[str, Any]) -> str:
    k, b, q, lo = d["kill"], d["bad_documents"], d["bad_questions"], d["load"]
    bad_fail = sum(not c["ok"] for c in b["cases"])
    q_crash = sum(r["outcome"] == "crash" for r in q["assistant"]) + sum(
        not r["ok"] for r in q["web"]
    )
    web_fail = sum(not w["ok"] for w in d["web"])
    lines = [
        "# Reliability and security",
        "",
        f"Produced by `helse-qa reliability` (`make reliability`) on {d['machine']}, "
        f"in {d['seconds']:.0f} s. Every figure in sections 1-6 was measured in that run; "
        "a section after them is a hand-made record with its own commands, kept when the "
        "file is written again.",
        "",
        "| part | faults / inputs | errors seen | data lost |",
        "|---|---|---|---|",
        f"| killed ingests (SIGKILL) | {k['kills']} kills | {k['errors']} | "
        f"{k['documents_lost']} documents |",
        f"| bad documents | {len(b['cases'])} files | {bad_fail} wrong outcomes | "
        f"good document answered: {'yes' if b['good_document_answered'] else 'NO'} |",
        f"| bad questions | {len(q['assistant'])} questions × (Assistant, web) | "
        f"{q_crash} crashes or traces | - |",
        f"| concurrent clients | {lo['clients']} clients × {lo['seconds']:.0f} s, "
        f"{lo['requests']} answers | {len(lo['errors'])} errors, {lo['misrouted']} misrouted | - |",
        f"| web surface | {len(d['web'])} checks | {web_fail} failed | - |",
        f"| vector store location | {len(d.get('stores', []))} cases | "
        f"{sum(not c['ok'] for c in d.get('stores', []))} failed | - |",
        "",
        "## 1. Killed ingests",
        "",
        "`helse-qa ingest` runs in a child process and gets SIGKILL at a random moment, drawn "
        "uniformly over the time an uninterrupted ingest takes from its start (calibrated: "
        + ", ".join(f"{n} {s:.1f} s" for n, s in k["calibration_s"].items())
        + "; includes loading the passage model). Every third ingest is a `--rebuild`. "
        "Before each, a document changes. After each kill: `helse-qa doctor` (manifest vs "
        "vectors vs BM25), every previous document still present with the same content, "
        "and a control question answered from the index.",
        "",
        f"- kills: {k['kills']} of {len(k['trials'])} ingests (the rest finished before "
        f"their kill time); killed after the atomic switch: {k['published_before_kill']}",
        f"- inconsistent indexes: {k['inconsistent']}; control question unanswered: "
        f"{k['unanswered']}; documents lost: {k['documents_lost']}",
        f"- next uninterrupted ingest: {'completed' if k['final_ok'] else 'FAILED'}, doctor "
        f"{'clean' if k['final_consistent'] else 'NOT clean: ' + '; '.join(k['final_problems'])}",
        "",
        "| # | rebuild | kill after (s) | killed | switched | consistent | answered |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in k["trials"]:
        lines.append(
            f"| {t['number']} | {'yes' if t['rebuild'] else ''} | {t['delay_s']:.2f} | "
            f"{'yes' if t['killed'] else 'no'} | {'yes' if t['published'] else ''} | "
            f"{'yes' if t['consistent'] else 'NO'} | {'yes' if t['answered'] else 'NO'} |"
        )
    lines += [
        "",
        "## 2. Bad documents",
        "",
        f"All files sit in one folder next to a good document and are ingested together "
        f"({b['seconds']:.1f} s).",
        "",
        "| file | case | expected | outcome | message |",
        "|---|---|---|---|---|",
    ]
    for c in b["cases"]:
        lines.append(
            f"| `{c['name']}` | {_cell(c['case'])} | {c['expected']} | {c['outcome']}"
            f"{'' if c['ok'] else ' (WRONG)'} | {_cell(c['message'])} |"
        )
    lines += [
        "",
        "## 3. Bad questions",
        "",
        "Through the Python API (`Assistant.ask`) and through the web app's chat endpoint "
        "(gradio_client). A refusal is a one-line message; no stack trace reaches a user.",
        "",
        "| case | length | Assistant | web app |",
        "|---|---|---|---|",
    ]
    web_rows = {r["case"]: r for r in q["web"]}
    for r in q["assistant"]:
        w = web_rows.get(r["case"], {})
        lines.append(
            f"| {r['case']} | {r['length']} | {r['outcome']}: {_cell(r['message'][:60])} | "
            f"{w.get('outcome', '-')}: {_cell(str(w.get('message', ''))[:60])} |"
        )
    lines += [
        "",
        "## 4. Concurrent clients",
        "",
        f"{lo['clients']} `gradio_client` sessions ask through the chat endpoint for "
        f"{lo['seconds']:.0f} s (a session starts a fresh conversation every 8 questions); "
        "after 5 s one more session uploads an 80-paragraph document, which is ingested "
        "while the others chat. After every answer a session checks that the server-side "
        "conversation (rendered in its sources panel) holds exactly its own questions.",
        "",
        f"- answers: {lo['requests']} in {lo['sessions']} conversations; errors: "
        f"{len(lo['errors'])}; answers in the wrong conversation: {lo['misrouted']}",
        f"- latency per answer (client side, queue included): p50 {lo['p50_s']:.2f} s, "
        f"p95 {lo['p95_s']:.2f} s, max {lo['max_s']:.2f} s",
        f"- upload + ingest: {lo['upload_s']} s ({_cell(lo['upload_message'])}); questions "
        f"answered from the new document afterwards: {lo['answered_from_upload']}",
        *_load_breakdown(lo),
        "",
        "The clients run in the same process as the app on this machine, so they compete "
        "with it for the CPU; the latencies are an upper bound for this hardware.",
        "",
        "## 5. Web surface",
        "",
        "| check | result | ok |",
        "|---|---|---|",
    ]
    for w in d["web"]:
        lines.append(
            f"| {_cell(w['check'])} | {_cell(w['result'])} | {'yes' if w['ok'] else 'NO'} |"
        )
    lines += [
        "",
        "The headless-browser check (a document with `<script>` and `<img onerror>`, and such "
        "a question, shown as text; no script runs) is `tests/test_ui.py::"
        "test_markup_in_documents_and_questions_shows_as_text_in_the_browser`.",
        "",
        "## 6. Vector store location",
        "",
        "Real `chroma run` servers started for the run (`evaluation/store_cases.py`): an index "
        "opened with a store that does not hold its vectors must be refused with the fix, "
        "`helse-qa ingest` must repair it, and a re-ingest on one instance must not break the "
        "questions of another (the previous generation's server collections are kept until "
        "the next publication).",
        "",
        "| case | expected | seen | ok |",
        "|---|---|---|---|",
    ]
    for c in d.get("stores", []):
        lines.append(
            f"| {_cell(c['case'])} | {_cell(c['expected'])} | {_cell(c['seen'][:240])} | "
            f"{'yes' if c['ok'] else 'NO'} |"
        )
    lines.append("")
    return "\n".join(lines)


def _load_breakdown(lo: dict[str, Any]) -> list[str]:
    """Section 4's lines on where an answer's time goes (those the run measured)."""
    lines = []
    if lo.get("answer_p50_s") is not None:
        lines.append(
            f"- of that, inside `Assistant.ask` (server side): p50 {lo['answer_p50_s']:.3f} s, "
            f"p95 {lo['answer_p95_s']:.3f} s; the rest is Gradio's queue, HTTP/SSE and the client"
        )
    phases = lo.get("gradio_phases_ms") or {}
    if phases:
        lines.append(
            "- Gradio's own phases (GRADIO_PROFILING=1), p50 / p95 ms: "
            + ", ".join(f"{k} {v['p50']:.0f} / {v['p95']:.0f}" for k, v in phases.items())
        )
    if lo.get("payload_bytes"):
        lines.append(
            "- bytes of chat + sources panel returned, by turn of a conversation (median): "
            + ", ".join(f"{t}: {b:,}" for t, b in lo["payload_bytes"].items())
        )
    if lo.get("cpu_ms_per_answer"):
        lines.append(
            f"- CPU of this process (app + clients) per answer: {lo['cpu_ms_per_answer']} ms"
        )
    return lines


def _cell(text: str) -> str:
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")
