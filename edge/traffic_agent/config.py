"""A camera's configuration and what it keeps in the state folder: the site's config (and the
last one it gave, for when it is away), the counter made from it, and the calibration the
counter learnt."""

import contextlib
import hashlib
import json
import logging
import math
import os
from pathlib import Path

from ..client import ApiError

log = logging.getLogger("edge.traffic_agent")

CONFIG_PATH = "/api/traffic/device/config/"
MAX_CONFIG_RETRY = 30.0
# A kept calibration is a few kilobytes: a larger file is not one.
MAX_CALIBRATION_BYTES = 1024 * 1024


def counter_inputs(config: dict) -> tuple[list, object]:
    """The `edge.traffic` lines and settings of the server's camera config."""
    from ..traffic import CounterSettings, lines_from_config

    return lines_from_config(config), CounterSettings.from_config(config)


def frame_size(config: dict) -> tuple[int, int]:
    # The lines, masks and areas are in the pixels of this frame size; the Counter scales
    # them to the frames the camera really gives.
    return int(config.get("width") or 640), int(config.get("height") or 480)


def make_counter(config: dict):
    from ..traffic import Counter

    lines, settings = counter_inputs(config)
    return Counter(lines, settings, frame_size=frame_size(config))


def state_name(key: str) -> str:
    """A camera's file names in the state folder: from its key, without revealing it."""
    return "camera-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def write_atomically(path: Path, text: str) -> None:
    """`text` in `path`, whole or not at all (a power cut leaves the previous file)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class CameraState:
    """The config and calibration half of a `CameraWorker`: fetching the site's config (or
    taking the kept one), offering a newer one, and keeping and taking up what the counter
    learnt. Uses the worker's label, stop event, link, state files, config and counter."""

    # --- configuration ---

    def first_config(self) -> dict | None:
        """The site's config, or the last one it gave (kept on disk) while it is away; None
        when stopped before any could be had."""
        delay = 1.0
        while not self.stop_event.is_set():
            try:
                return self.fetch_config()
            except ApiError as error:
                cached = self.cached_config()
                if cached is not None:
                    log.warning(
                        "%s: no config from the site (%s): counting with the last one (version %s)",
                        self.label,
                        error,
                        cached.get("version"),
                    )
                    return cached
                log.warning(
                    "%s: no config from the site yet (%s); retry in %.0f s",
                    self.label,
                    error,
                    delay,
                )
            self.stop_event.wait(delay)
            delay = min(delay * 2, MAX_CONFIG_RETRY)
        return None

    def fetch_config(self) -> dict:
        config = self.link.server.request("GET", CONFIG_PATH)
        with contextlib.suppress(OSError):
            self.config_file.write_text(json.dumps(config))
        return config

    def cached_config(self) -> dict | None:
        try:
            return json.loads(self.config_file.read_text())
        except (OSError, ValueError):
            return None

    def offer_config(self, config: dict) -> None:
        """From the link thread: a newer config, taken by the camera loop at its next frame
        and in effect from the next interval."""
        self.offered = config

    def running_version(self):
        if self.counter_version is not None:
            return self.counter_version
        return (self.config or {}).get("version")

    # --- what the counter learnt ---

    def kept_calibration(self, size: tuple[int, int]):
        """The calibration kept in the state folder for this frame size, else a new one; a
        file that cannot be used is said in one line, never stops the camera."""
        from ..traffic.classes import Calibration

        try:
            with open(self.calibration_file, "rb") as kept:
                raw = kept.read(MAX_CALIBRATION_BYTES + 1)
            if len(raw) > MAX_CALIBRATION_BYTES:
                raise ValueError("too large")
            data = json.loads(raw)
            calibration = Calibration.from_dict(data, size)
            values = [v for pair in calibration.sizes for v in pair] + list(calibration.speeds)
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError("sizes that are no sizes")
        except FileNotFoundError:
            return Calibration(size)
        except (OSError, ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as error:
            log.warning(
                "%s: the vehicle sizes kept in %s are unreadable (%s): learning them afresh",
                self.label,
                self.calibration_file.name,
                error,
            )
            return Calibration(size)
        if calibration.sizes or calibration.speeds:
            log.info(
                "%s: vehicle sizes of the last run taken up (%d vehicles)",
                self.label,
                len(calibration.sizes),
            )
        else:
            log.info("%s: no vehicle sizes kept for %dx%d: learning them afresh", self.label, *size)
        return calibration

    def save_calibration(self) -> None:
        calibration = getattr(self.counter, "calibration", None)
        if calibration is None:
            return
        try:
            write_atomically(self.calibration_file, json.dumps(calibration.to_dict()))
        except OSError as error:
            log.warning("%s: the vehicle sizes learnt are not kept: %s", self.label, error)
