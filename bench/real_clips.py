"""The real-clip half of `counting_accuracy.py`: the traffic counter and the OpenCV-tutorial
counter (`tutorial_counter.py`) on camera clips counted by hand, side by side.

The clips and their `ground_truth.json` (conventions in its GROUND_TRUTH.md) are looked for
in `../shared/clips/traffic/` beside the repository (or `--clips DIR`), then in the
repository's `edge/tests/clips/` and `traffic/clips/`, where two of them may be vendored
under the same names; a clip is taken from the first folder that has it.
"""

import json
import math
import time
from collections import Counter as Tally
from pathlib import Path

import cv2
import tutorial_counter

from edge.traffic import Counter, CounterSettings, Line
from edge.traffic.classes import NOT_MOTOR

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "clips" / "traffic"
VENDORED = (ROOT / "edge" / "tests" / "clips", ROOT / "traffic" / "clips")
TARGET_FPS = 200  # counting_fps.py's target for the counter on one core [issue 6]


def find_clips(folders: list[Path]) -> tuple[dict[str, tuple[Path, dict]], list[str]]:
    """Clip name -> (its file, its truth) from the first folder holding it, and the reasons
    folders or clips were passed over."""
    found, passed_over = {}, []
    for folder in folders:
        truth_file = folder / "ground_truth.json"
        if not truth_file.is_file():
            passed_over.append(f"{_shown(folder)}: no ground_truth.json (or no such folder)")
            continue
        for name, truth in json.loads(truth_file.read_text()).items():
            if name in found:
                continue
            if (folder / name).is_file():
                found[name] = (folder / name, truth)
            else:
                passed_over.append(f"{_shown(folder)}: {name} is in its truth but not there")
    return found, passed_over


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def run_counter(path: Path, truth: dict, settings: CounterSettings) -> dict:
    """The counter over every decoded frame: classes counted per "in"/"out", frames, CPU s."""
    p1, p2 = truth["line"]
    counter = Counter([Line("L", "L", p1, p2)], settings, tuple(truth["resolution"]))
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or truth["fps"]
    classes = {"in": Tally(), "out": Tally()}
    cpu, index = 0.0, -1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        started = time.process_time()
        crossings = counter.process(frame, index, index / fps)
        cpu += time.process_time() - started
        _tally(crossings, classes)
    capture.release()
    _tally(counter.finish(index, index / fps), classes)
    return {"classes": classes, "frames": index + 1, "cpu": cpu}


def _tally(crossings, classes: dict) -> None:
    for crossing in crossings:
        classes[crossing.direction][crossing.vehicle_class] += 1


def run_baseline(path: Path, truth: dict) -> dict[str, int]:
    """The tutorial counter's crossings per "in"/"out" (it has no classes: all of them)."""
    crossed = tutorial_counter.count(tutorial_counter.frames_of(path), truth["line"])
    return {direction: len(frames) for direction, frames in crossed.items()}


def rows_of(name: str, truth: dict, counted: dict, baseline: dict) -> list[dict]:
    """One row per direction of the truth (motor vehicles), and one of bicycles where the
    truth has them or the counter counted some (a phantom bicycle is an error too)."""
    rows = []
    for direction, hand in truth["counts"].items():
        named = Line("L", "L", *truth["line"]).direction_of(
            truth["direction_vectors_image"][direction]
        )
        classes = counted["classes"][named]
        motor = {k: n for k, n in classes.items() if k not in NOT_MOTOR}
        rows.append(
            {
                "clip": name,
                "direction": f"{direction} ({named})",
                "hand": hand,
                "counted": sum(motor.values()),
                "baseline": baseline[named],
                "classes": _classes_text(classes),
            }
        )
        bicycles = truth.get("bicycles", {})
        if direction in bicycles or classes["bicycle"]:
            rows.append(_bicycle_row(name, direction, bicycles.get(direction, 0), classes))
    return rows


def _bicycle_row(name: str, direction: str, hand: int, classes: Tally) -> dict:
    return {
        "clip": name,
        "direction": f"{direction}, bicycles",
        "hand": hand,
        "counted": classes["bicycle"],
        "baseline": None,
        "classes": "not in the targets",
    }


def _classes_text(classes: Tally) -> str:
    motor = [f"{k} {n}" for k, n in sorted(classes.items()) if k not in NOT_MOTOR and n]
    other = [f"{k} {n}" for k, n in sorted(classes.items()) if k in NOT_MOTOR and n]
    text = ", ".join(motor) or "none"
    return f"{text}; not motor: {', '.join(other)}" if other else text


def print_table(rows: list[dict]) -> None:
    print(
        "| clip | direction | hand count | counted (motor) | baseline | error | "
        "baseline error | counter's classes |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        baseline, hand = row["baseline"], row["hand"]
        baseline_error = "—" if baseline is None else f"{baseline - hand:+d}"
        print(
            f"| {row['clip']} | {row['direction']} | {hand} | {row['counted']} | "
            f"{'—' if baseline is None else baseline} | {row['counted'] - hand:+d} | "
            f"{baseline_error} | {row['classes']} |"
        )


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


def _allowed(hand: int) -> float:
    return 1 if hand < 20 else 0.05 * hand


def print_targets(rows: list[dict], results: dict) -> None:
    motor = [row for row in rows if row["baseline"] is not None]
    _within_each(motor)
    _sum_of_errors(motor)
    _against_baseline(motor)
    _speed(results)


def _within_each(rows: list[dict]) -> None:
    misses = [
        f"{row['clip']} {row['direction']} off by {row['counted'] - row['hand']:+d}"
        for row in rows
        if abs(row["counted"] - row["hand"]) > _allowed(row["hand"])
    ]
    summary = "; ".join(misses) if misses else f"{len(rows)} of {len(rows)}"
    print(
        f"- every clip and direction within +-5 % of its hand count (+-1 under 20): "
        f"{_verdict(not misses)} ({summary})"
    )


def _sum_of_errors(rows: list[dict]) -> None:
    hand = sum(row["hand"] for row in rows)
    counter = sum(abs(row["counted"] - row["hand"]) for row in rows)
    baseline = sum(abs(row["baseline"] - row["hand"]) for row in rows)
    print(
        f"- sum of |errors| {counter} of {hand} ({100 * counter / max(1, hand):.1f} %) "
        f"[< 3 %]: {_verdict(counter < 0.03 * hand)}; the baseline's {baseline} "
        f"({100 * baseline / max(1, hand):.1f} %)"
    )


def _against_baseline(rows: list[dict]) -> None:
    per_clip: dict[str, list[int]] = {}
    for row in rows:
        errors = per_clip.setdefault(row["clip"], [0, 0])
        errors[0] += abs(row["counted"] - row["hand"])
        errors[1] += abs(row["baseline"] - row["hand"])
    verdicts = [
        f"{clip} {'ahead' if mine < theirs else 'equal' if mine == theirs else 'BEHIND'} "
        f"({mine} vs {theirs})"
        for clip, (mine, theirs) in per_clip.items()
    ]
    behind = any(mine > theirs for mine, theirs in per_clip.values())
    print(
        f"- ahead of (or equal to) the baseline on every clip, sum of |errors| per clip: "
        f"{_verdict(not behind)} ({'; '.join(verdicts)})"
    )


def _speed(results: dict) -> None:
    speeds = {clip: r["frames"] / r["cpu"] if r["cpu"] else math.inf for clip, r in results.items()}
    shown = "; ".join(f"{clip} {fps:,.0f}" for clip, fps in speeds.items())
    print(
        f"- counter frames per CPU second, each clip [>= {TARGET_FPS}]: "
        f"{_verdict(min(speeds.values()) >= TARGET_FPS)} ({shown})"
    )


def run(settings: CounterSettings, clips: Path | None) -> None:
    """Count every real clip found with the counter and the baseline; print the table and
    the targets (or why the clips were skipped)."""
    found, passed_over = find_clips([clips or SHARED, *VENDORED])
    if not found:
        print("\n## Real clips: skipped, no folder holds them with their ground_truth.json\n")
        print("\n".join(f"- {reason}" for reason in passed_over))
        return
    rows, results = [], {}
    for name, (path, truth) in found.items():
        results[name] = run_counter(path, truth, settings)
        _check_frames(name, truth, results[name]["frames"])
        rows += rows_of(name, truth, results[name], run_baseline(path, truth))
    frames = sum(r["frames"] for r in results.values())
    print(f"\n## Real clips ({len(found)} clips, {frames} frames), against their hand counts\n")
    print_table(rows)
    print("\ntargets (motor vehicles; the bicycle rows are not in them):")
    print_targets(rows, results)
    _print_sources(found, passed_over)


def _check_frames(name: str, truth: dict, decoded: int) -> None:
    if decoded != truth["frames"]:
        print(f"warning: {name}: {decoded} frames decoded, its truth says {truth['frames']}")


def _print_sources(found: dict, passed_over: list[str]) -> None:
    folders = sorted({_shown(path.parent) for path, _ in found.values()})
    print(f"\nclips from {', '.join(folders)}")
    for reason in passed_over:
        print(f"- passed over: {reason}")
