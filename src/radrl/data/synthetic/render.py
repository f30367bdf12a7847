"""Procedural frontal chest radiographs: normal anatomy plus one visible sign per finding.

Coordinates are fractions of the image; the patient's right is the image's left (radiographic
convention). The normal film: soft-tissue body outline, two dark lung fields with a dome-shaped
diaphragm and sharp costophrenic angles, heart and mediastinum, trachea, spine, clavicles,
posterior ribs, branching lung vessels, film noise and exposure variation.

Signs (``SIGNS`` maps each finding to the function that draws it):

=============================  ======================================================================
Cardiomegaly                   heart wider than half the thorax (graded by severity)
Enlarged Cardiomediastinum     widened upper mediastinum
Pleural Effusion               fluid at the base with a meniscus rising laterally; blunted angle
Pneumothorax                   lucent rim without vessels outside a visible pleural line (apex/lateral)
Edema                          bilateral perihilar haze and short peripheral septal (Kerley B) lines
Consolidation                  dense lobar patch with dark air bronchograms
Pneumonia                      several fluffy patches in one zone
Lung Opacity                   one faint, ill-defined patch
Atelectasis                    thin horizontal (plate-like) band at the base
Lung Lesion                    sharp round nodule, or a larger lobulated mass
Pleural Other                  pleural thickening: a band capping the apex / lining the chest wall
Fracture                       one rib interrupted, its lateral segment offset
Support Devices                ET tube, central line, pacemaker with leads, nasogastric tube
=============================  ======================================================================

A hedged finding (``uncertain`` label) is drawn at 60 % strength.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from radrl.data.synthetic.cases import Case, Finding

SEVERITY_SCALE = {"small": 0.0, "moderate": 0.5, "large": 1.0}
ZONE_Y = {"upper": 0.27, "middle": 0.44, "lower": 0.60}


class _Canvas:
    """Float image in [0, 1] with coordinate grids and the patient's anatomy frame."""

    def __init__(self, case: Case, size: int):
        a = case.anatomy
        self.size = size
        self.rng = np.random.default_rng(a.seed)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
        self.y, self.x = ys, xs
        self.cx = 0.5 + a.rotation
        self.tw = a.thorax_width / 2
        self.top, self.base = a.lung_top, a.lung_base
        self.img = np.zeros((size, size), np.float32)
        heart = case.findings.get("Cardiomegaly")
        self.heart_width = a.heart_width * (1.0 if heart is None else 1.32 + 0.14 * SEVERITY_SCALE[heart.severity])
        self.heart_cx = self.cx + a.heart_shift
        self.mw = a.mediastinum_width * (1.8 if "Enlarged Cardiomediastinum" in case.findings else 1.0)
        self.lung = {s: self._lung_mask(s) for s in ("right", "left")}

    def side_x(self, side: str) -> float:
        """Centre x of the patient's right (image left) or left lung."""
        return self.cx - self.tw / 2 - 0.01 if side == "right" else self.cx + self.tw / 2 + 0.01

    def dome(self, side: str) -> np.ndarray:
        """Diaphragm height under each column (the right hemidiaphragm sits a little higher)."""
        c = self.side_x(side)
        lift = 0.02 if side == "right" else 0.0
        return self.base - lift - 0.07 * np.cos(np.clip((self.x - c) / (self.tw / 2 + 0.02), -1.4, 1.4))

    def _lung_mask(self, side: str) -> np.ndarray:
        c = self.side_x(side)
        rx, ry = self.tw / 2 - 0.01, (self.base - self.top) / 2 + 0.05
        cy = (self.top + self.base) / 2 + 0.05
        inside = ((self.x - c) / rx) ** 2 + ((self.y - cy) / ry) ** 2 < 1.0
        medial = (self.x < self.cx - 0.055) if side == "right" else (self.x > self.cx + 0.055)
        return (inside & medial & (self.y < self.dome(side)) & (self.y > self.top)).astype(np.float32)

    def sides(self, side: str | None) -> list[str]:
        return ["right", "left"] if side in ("bilateral", None) else [side]

    def blob(self, x: float, y: float, rx: float, ry: float, sharp: float = 8.0) -> np.ndarray:
        d = ((self.x - x) / rx) ** 2 + ((self.y - y) / ry) ** 2
        return 1.0 / (1.0 + np.exp(np.clip(sharp * (d - 1.0), -50, 50)))

    def lines(self, paths: list[list[tuple[float, float]]], width: float) -> np.ndarray:
        layer = Image.new("L", (self.size, self.size), 0)
        draw = ImageDraw.Draw(layer)
        s = self.size - 1
        w = max(1, round(width * self.size))
        for pts in paths:
            draw.line([(px * s, py * s) for px, py in pts], fill=255, width=w, joint="curve")
        return np.asarray(layer, np.float32) / 255.0

    def blur(self, layer: np.ndarray, sigma_frac: float) -> np.ndarray:
        from scipy.ndimage import gaussian_filter  # scipy costs 0.35 s to import: only when rendering

        return gaussian_filter(layer, sigma=max(sigma_frac * self.size, 0.3))


# ---- normal anatomy -------------------------------------------------------------------------

def _anatomy(cv: _Canvas, case: Case) -> np.ndarray:
    """Lung-field mask after drawing the normal film (returned for the signs that need it)."""
    body = cv.blob(cv.cx, 0.58, cv.tw + 0.07, 0.62, sharp=6)
    cv.img += 0.50 * body
    lungs = cv.blur(cv.lung["right"] + cv.lung["left"], 0.004)
    cv.img -= 0.32 * lungs
    # mediastinum and heart
    med = ((np.abs(cv.x - cv.cx) < cv.mw / 2) & (cv.y > 0.04) & (cv.y < cv.base - 0.05)).astype(np.float32)
    cv.img += 0.22 * cv.blur(med, 0.008) * (1 - 0.5 * lungs)
    heart = cv.blob(cv.heart_cx, cv.base - 0.13, cv.heart_width * cv.tw, 0.14, sharp=10)
    cv.img += 0.36 * heart * (0.3 + 0.7 * lungs)
    # trachea and spine
    trachea = ((np.abs(cv.x - cv.cx) < 0.014) & (cv.y > 0.02) & (cv.y < 0.32)).astype(np.float32)
    cv.img -= 0.12 * cv.blur(trachea, 0.004)
    for k in range(14):
        cv.img += 0.05 * cv.blob(cv.cx, 0.06 + k * 0.062, 0.035, 0.022, sharp=6)
    # clavicles
    cv.img += 0.12 * cv.blur(cv.lines([[(cv.cx - 0.05, 0.15), (cv.cx - 0.33, 0.10)],
                                       [(cv.cx + 0.05, 0.15), (cv.cx + 0.33, 0.10)]], 0.02), 0.004)
    return lungs


def _rib_path(cv: _Canvas, side: str, i: int, n: int) -> list[tuple[float, float]]:
    sign = -1 if side == "right" else 1
    y0 = cv.top - 0.03 + i * (cv.base - cv.top + 0.02) / n
    xs = np.linspace(0.06, cv.tw + 0.02, 14)
    return [(cv.cx + sign * dx, y0 + 0.9 * (dx - 0.05) ** 2 - 0.04 * dx) for dx in xs]


def _ribs(cv: _Canvas, case: Case) -> None:
    n = 9
    fracture = case.findings.get("Fracture")
    paths = []
    broken: tuple[str, int] | None = None
    if fracture is not None:
        idx = {"upper": 2, "middle": 4, "lower": 6}[fracture.zone or "middle"]
        broken = (fracture.side or "right", idx)
    for side in ("right", "left"):
        for i in range(n):
            p = _rib_path(cv, side, i, n)
            if broken == (side, i):
                # interrupted rib: gap, then the lateral segment displaced downward
                strength = 0.6 if fracture.hedged else 1.0
                shift = 0.03 * strength
                paths.append(p[:7])
                paths.append([(x, y + shift) for x, y in p[9:]])
            else:
                paths.append(p)
    ribs = cv.blur(cv.lines(paths, 0.016), 0.003)
    cv.img += 0.13 * ribs


def _vessels(cv: _Canvas, case: Case) -> np.ndarray:
    rng = np.random.default_rng(case.anatomy.seed + 1)
    paths = []
    for side in ("right", "left"):
        sign = -1 if side == "right" else 1
        hx, hy = cv.cx + sign * 0.09, 0.43
        for _ in range(case.anatomy.n_vessels):
            ang = rng.uniform(-1.2, 1.2)
            length = rng.uniform(0.12, 0.24)
            pts = [(hx, hy)]
            x, y = hx, hy
            for _step in range(5):
                ang += rng.normal(0, 0.18)
                x += sign * np.cos(ang) * length / 5
                y += np.sin(ang) * length / 5
                pts.append((x, y))
            paths.append(pts)
    return cv.blur(cv.lines(paths, 0.008), 0.004)


# ---- signs ------------------------------------------------------------------------------------

def _strength(f: Finding) -> float:
    return 0.6 if f.hedged else 1.0


def sign_effusion(cv: _Canvas, f: Finding) -> None:
    h = 0.07 + 0.12 * SEVERITY_SCALE[f.severity]
    for side in cv.sides(f.side):
        c = cv.side_x(side)
        lateral = np.clip(np.abs(cv.x - c) / (cv.tw / 2), 0, 1.2) * ((cv.x - c) * (-1 if side == "right" else 1) > 0)
        level = cv.base - h - 0.07 * lateral ** 2
        fluid = cv.lung[side] * (cv.y > level)
        # the fluid also fills the costophrenic recess below the lung outline
        fluid = np.maximum(fluid, cv.blob(c + (-1 if side == "right" else 1) * cv.tw / 2.3, cv.base - 0.02,
                                          0.04, 0.03 + h / 3) * (cv.y > level) * (cv.y < cv.base + 0.02))
        cv.img += 0.34 * _strength(f) * cv.blur(fluid.astype(np.float32), 0.008)


def sign_pneumothorax(cv: _Canvas, f: Finding, vessels: np.ndarray) -> np.ndarray:
    """Returns the vessel layer with markings removed in the collapsed area."""
    side = f.side or "right"
    lung = cv.lung[side]
    c = cv.side_x(side)
    shrink = 0.10 + 0.12 * SEVERITY_SCALE[f.severity]
    cy = (cv.top + cv.base) / 2 + 0.1
    rx, ry = (cv.tw / 2 - 0.01) * (1 - shrink), ((cv.base - cv.top) / 2 + 0.05) * (1 - shrink)
    inner = ((((cv.x - c) / rx) ** 2 + ((cv.y - cy) / ry) ** 2) < 1.0).astype(np.float32)
    rim = lung * (1 - inner)
    cv.img -= 0.10 * cv.blur(rim, 0.003)
    edge = cv.blur(inner, 0.002)
    line = lung * (edge > 0.35) * (edge < 0.65)
    cv.img += 0.16 * cv.blur(line.astype(np.float32), 0.002)
    return vessels * (1 - rim)


def sign_edema(cv: _Canvas, f: Finding) -> None:
    amp = (0.15 + 0.10 * SEVERITY_SCALE[f.severity]) * _strength(f)
    lungs = cv.lung["right"] + cv.lung["left"]
    for sign in (-1, 1):
        cv.img += amp * cv.blob(cv.cx + sign * 0.12, 0.45, 0.14, 0.16, sharp=2.5) * lungs
    paths = []
    for side in ("right", "left"):
        sign = -1 if side == "right" else 1
        for k in range(4):
            y = cv.base - 0.14 + k * 0.025
            x0 = cv.cx + sign * (cv.tw - 0.02)
            paths.append([(x0, y), (x0 - sign * 0.04, y)])
    cv.img += 0.6 * amp * cv.blur(cv.lines(paths, 0.005), 0.002) * cv.blur(lungs, 0.01)


def _zone_xy(cv: _Canvas, f: Finding) -> tuple[float, float]:
    side = f.side or "right"
    sign = -1 if side == "right" else 1
    return cv.side_x(side) + sign * 0.03, ZONE_Y[f.zone or "lower"]


def sign_consolidation(cv: _Canvas, f: Finding) -> None:
    x, y = _zone_xy(cv, f)
    lung = cv.lung[f.side or "right"]
    patch = cv.blob(x, y, 0.10, 0.075, sharp=6) * lung
    cv.img += 0.42 * _strength(f) * cv.blur(patch, 0.004)
    rng = np.random.default_rng(int(x * 1e4) + int(y * 1e4))
    paths = []
    for _ in range(3):
        ang = rng.uniform(0, np.pi)
        paths.append([(x - 0.05 * np.cos(ang), y - 0.03 * np.sin(ang)), (x, y),
                      (x + 0.05 * np.cos(ang + 0.3), y + 0.03 * np.sin(ang + 0.3))])
    cv.img -= 0.12 * _strength(f) * cv.blur(cv.lines(paths, 0.006), 0.002) * (patch > 0.5)


def sign_pneumonia(cv: _Canvas, f: Finding) -> None:
    x, y = _zone_xy(cv, f)
    lung = cv.lung[f.side or "right"]
    rng = np.random.default_rng(int(x * 1e4) * 7 + int(y * 1e4))
    layer = np.zeros_like(cv.img)
    for _ in range(6):
        layer += cv.blob(x + rng.normal(0, 0.045), y + rng.normal(0, 0.035), 0.028, 0.028, sharp=3)
    cv.img += 0.22 * _strength(f) * cv.blur(np.clip(layer, 0, 1.2) * lung, 0.006)


def sign_opacity(cv: _Canvas, f: Finding) -> None:
    x, y = _zone_xy(cv, f)
    lung = cv.lung[f.side or "right"]
    cv.img += 0.24 * _strength(f) * cv.blur(cv.blob(x, y, 0.09, 0.08, sharp=2) * lung, 0.010)


def sign_atelectasis(cv: _Canvas, f: Finding) -> None:
    paths = []
    for side in cv.sides(f.side):
        x = cv.side_x(side)
        y = cv.base - 0.11
        paths.append([(x - 0.08, y - 0.008), (x + 0.08, y + 0.008)])
    cv.img += 0.30 * _strength(f) * cv.blur(cv.lines(paths, 0.014), 0.003)


def sign_lesion(cv: _Canvas, f: Finding) -> None:
    x, y = _zone_xy(cv, f)
    if f.kind == "mass":
        layer = (cv.blob(x, y, 0.045, 0.04, sharp=12) + cv.blob(x + 0.025, y + 0.015, 0.03, 0.03, sharp=12))
        amp = 0.30
    else:
        layer = cv.blob(x, y, 0.02, 0.02, sharp=14)
        amp = 0.34
    cv.img += amp * _strength(f) * np.clip(layer, 0, 1)


def sign_pleural_other(cv: _Canvas, f: Finding) -> None:
    for side in cv.sides(f.side):
        lung = cv.lung[side]
        inner = cv.blur(lung, 0.012)
        band = lung * (inner < 0.8) * (cv.y < cv.top + 0.16)
        cv.img += 0.38 * _strength(f) * cv.blur(band.astype(np.float32), 0.003)


def sign_devices(cv: _Canvas, f: Finding) -> None:
    paths = []
    for kind in f.devices:
        if kind == "ett":
            paths.append([(cv.cx, 0.0), (cv.cx, 0.26)])
        elif kind == "cvc":
            sign = -1 if f.side == "right" else 1
            paths.append([(cv.cx + sign * 0.24, 0.12), (cv.cx + sign * 0.10, 0.16),
                          (cv.cx - 0.025, 0.24), (cv.cx - 0.03, 0.34)])
        elif kind == "pacemaker":
            px = cv.cx + 0.24
            box = ((np.abs(cv.x - px) < 0.04) & (np.abs(cv.y - 0.17) < 0.028)).astype(np.float32)
            cv.img += 0.5 * cv.blur(box, 0.002)
            paths.append([(px - 0.03, 0.18), (cv.cx + 0.02, 0.30), (cv.heart_cx - 0.04, cv.base - 0.12)])
            paths.append([(px - 0.03, 0.18), (cv.cx + 0.03, 0.32), (cv.heart_cx + 0.02, cv.base - 0.07)])
        elif kind == "ngt":
            paths.append([(cv.cx - 0.01, 0.0), (cv.cx + 0.0, 0.5), (cv.cx + 0.06, cv.base + 0.04),
                          (cv.cx + 0.14, cv.base + 0.08)])
    if paths:
        cv.img += 0.45 * cv.blur(cv.lines(paths, 0.009), 0.0015)


SIGNS = {
    "Pleural Effusion": sign_effusion,
    "Edema": sign_edema,
    "Consolidation": sign_consolidation,
    "Pneumonia": sign_pneumonia,
    "Lung Opacity": sign_opacity,
    "Atelectasis": sign_atelectasis,
    "Lung Lesion": sign_lesion,
    "Pleural Other": sign_pleural_other,
    "Support Devices": sign_devices,
}
"""Signs drawn after the anatomy. Cardiomegaly, Enlarged Cardiomediastinum and Fracture change
the anatomy itself (heart width, mediastinum width, one rib); Pneumothorax edits the vessel layer."""


UNSCALED_SIGNS = ("Support Devices",)
"""Signs ``sign_strength`` leaves alone: tubes and lines are as plain on a film as ever."""


def render_case(case: Case, size: int = 224, sign_strength: float = 1.0) -> np.ndarray:
    """Render ``case`` to a ``size`` x ``size`` uint8 grayscale array.

    ``sign_strength`` sets how conspicuous the lung and pleural signs are: the film is the normal
    film plus ``sign_strength`` times what those signs change (Pneumothorax, Pleural Effusion,
    Edema, Consolidation, Pneumonia, Lung Opacity, Atelectasis, Lung Lesion, Pleural Other),
    before exposure and noise. The anatomy changes (Cardiomegaly, Enlarged Cardiomediastinum,
    Fracture) and ``UNSCALED_SIGNS`` are drawn as always. 1.0 is the default film, bit for bit.
    """
    if sign_strength < 0:
        raise ValueError(f"sign_strength must be >= 0, got {sign_strength}")
    cv = _Canvas(case, size)
    lungs = _anatomy(cv, case)
    _ribs(cv, case)
    vessels = _vessels(cv, case)
    normal = cv.img + 0.10 * vessels * lungs if sign_strength != 1.0 else None
    if "Pneumothorax" in case.findings:
        vessels = sign_pneumothorax(cv, case.findings["Pneumothorax"], vessels)
    cv.img += 0.10 * vessels * lungs
    for name, draw in SIGNS.items():
        if name in case.findings and name not in UNSCALED_SIGNS:
            draw(cv, case.findings[name])
    if normal is not None:
        cv.img = normal + np.float32(sign_strength) * (cv.img - normal)
    for name in UNSCALED_SIGNS:
        if name in case.findings:
            SIGNS[name](cv, case.findings[name])
    a = case.anatomy
    img = np.clip(cv.img, 0, 1) ** (1.0 / a.exposure)
    img = img + cv.rng.normal(0, 0.018, img.shape).astype(np.float32)
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(img, 0.5)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)

