"""The timeline picture (execo.timeline): valid files of the expected
size at 10 and 5,000 processes, what the legend counts, rows grouped over
max_rows, hostile labels drawn as text, and the execo command's
--timeline."""

import copy
import struct
import xml.etree.ElementTree as ET

import matplotlib  # noqa: F401  (tests/install.sh installs it: no skip)
import pytest
from test_records import execo_cli

from execo import Process
from execo.joblog import JobLog
from execo.records import process_record
from execo.timeline import draw_timeline


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def svg_root(path):
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def legend_texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def row_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def ten_processes():
    """10 real processes: 6 ok, one of each way to fail, one never started."""
    ps = [Process("sleep 0.%d" % (i + 1), name="p%d" % i) for i in range(6)]
    ps.append(Process("exit 3", shell=True, name="exits"))
    ps.append(Process("sleep 10", timeout=0.3, name="times-out"))
    ps.append(Process("/nonexistent/command", name="cannot-spawn"))
    killed = Process("sleep 10", name="killed")
    ps.append(killed)
    never = Process("true", name="never")
    for p in ps:
        p.start()
    killed.kill()
    for p in ps:
        p.wait()
    return ps + [never]


@pytest.fixture(scope="module")
def ten(execo_quiet):
    return ten_processes()


@pytest.fixture(scope="module")
def execo_quiet():
    import logging

    import execo

    level = execo.logger.level
    execo.logger.setLevel(logging.CRITICAL)
    yield
    execo.logger.setLevel(level)


def test_ten_processes_to_png_and_svg_of_the_expected_size(ten, tmp_path):
    png, svg = tmp_path / "t.png", tmp_path / "t.svg"
    fig = draw_timeline(ten, png, width=8.0, dpi=50)
    w, h = png_size(png)
    fw, fh = fig.get_size_inches()
    assert (w, h) == (400, round(fh * 50))
    assert fw == 8.0 and 2 < fh < 10
    draw_timeline(ten, svg, width=10.0)
    root = svg_root(svg)
    assert root.get("width") == "720pt"  # 10 inches at 72 pt
    assert float(root.get("height").rstrip("pt")) == pytest.approx(fh * 72, rel=0.01)
    # one row each, in order of submission, the one never started last
    assert row_labels(fig) == [p.name for p in ten]


def test_legend_counts_each_outcome(ten):
    fig = draw_timeline(ten)
    texts = legend_texts(fig)
    for expected in ("ok: 6", "exit: 1", "timeout: 1", "killed: 1", "error: 1", "never spawned: 1"):
        assert expected in texts, texts
    assert not any(t.startswith("running") for t in texts)


def test_pdf_and_a_job_log_as_the_source(ten, tmp_path):
    log = tmp_path / "run.jsonl"
    with JobLog(str(log)) as jl:
        for p in ten[:-1]:
            jl.end(p)
    pdf = tmp_path / "t.pdf"
    fig = draw_timeline(str(log), pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert row_labels(fig) == [p.name for p in ten[:-1]]


def test_5000_processes_share_at_most_max_rows_rows(ten, tmp_path):
    base = [process_record(p) for p in ten[:10]]
    records = []
    for i in range(5000):
        r = copy.deepcopy(base[i % 10])
        r["host"] = {"address": "node-%d" % i, "user": None, "port": None}
        r["submitted"] = 1000.0 + i * 0.001
        r["start"], r["queued"] = r["submitted"] + 0.01, 0.01
        r["duration"] = 1.0 + (60.0 if i == 4321 else 0.0)  # one straggler
        r["end"] = r["start"] + r["duration"]
        records.append(r)
    out = tmp_path / "big.png"
    fig = draw_timeline(records, out, max_rows=200)
    labels = row_labels(fig)
    assert len(labels) == 200
    assert labels[0] == "node-0 \u2026 node-24 (25)"
    assert labels[172] == "node-4300 \u2026 node-4324 (25)"
    w, h = png_size(out)
    assert w == 1000 and h == round(fig.get_size_inches()[1] * 100)
    assert h < 200 * 0.2 * 100 + 400  # the height grows with the rows, not the processes
    counts = {t.split(": ")[0]: int(t.split(": ")[1]) for t in legend_texts(fig) if not t.startswith("group")}
    assert sum(counts[o] for o in ("ok", "exit", "timeout", "error", "killed")) == 5000
    # the straggler's row reaches 61 s, every other row ends near 1 s
    ax = fig.axes[0]
    assert ax.get_xlim()[1] > 60
    notes = [t.get_text() for t in ax.texts]
    assert len(notes) == 200 and all("exit" in n or "error" in n for n in notes)
    fig = draw_timeline(records[:150], max_rows=200)
    assert len(row_labels(fig)) == 150


def test_hostile_labels_are_text_not_markup(tmp_path, execo_quiet):
    evil = "$\\nosuchmacro{x}$\x1b[31m\nrm -rf ~;" + "A" * 200
    p = Process("true", name=evil).run()
    rec = process_record(p)
    rec2 = dict(rec, host={"address": "$\\undefined$\x00node", "user": "u$er", "port": 22})
    out = tmp_path / "evil.svg"
    fig = draw_timeline([rec, rec2], out, title="$\\alsoundefined$ \x07title")
    labels = row_labels(fig)
    for label in labels:
        assert len(label) <= 32 and label.isprintable()
    assert labels[0].startswith("$\\nosuchmacro{x}$\ufffd")
    assert labels[1] == "u$er@$\\undefined$\ufffdnode"
    assert all(not t.get_parse_math() for t in fig.axes[0].get_yticklabels())
    svg_root(out)  # mathtext would have raised on the undefined macros
    assert "\x1b" not in out.read_text()


def test_bad_suffix_and_bad_max_rows_fail_before_drawing(ten, tmp_path):
    for name in ("t.jpg", "t", "t.svg.txt"):
        with pytest.raises(ValueError, match="png, .svg or .pdf"):
            draw_timeline(ten, tmp_path / name)
        assert not (tmp_path / name).exists()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_rows"):
            draw_timeline(ten, max_rows=bad)
    with pytest.raises(TypeError):
        draw_timeline(42)
    fig = draw_timeline([])
    assert row_labels(fig) == []


def test_cli_timeline(sshd, tmp_path):
    from test_cli import ssh_args

    bad = execo_cli("-H", "127.0.0.1", "--timeline", str(tmp_path / "t.gif"), "true")
    assert bad.returncode == 2 and "--timeline" in bad.stderr
    assert not (tmp_path / "t.gif").exists()
    out = tmp_path / "run.svg"
    hosts = ",".join("127.0.0.%d" % i for i in range(1, 5))
    r = execo_cli("-H", hosts, *ssh_args(sshd), "--timeline", str(out), "--no-report", "exit 0")
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    svg_root(out)
    for i in range(1, 5):
        assert "127.0.0.%d" % i in svg
    assert "ok: 4" in svg
