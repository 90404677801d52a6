"""shapes10: a procedurally drawn 10-class image dataset that needs no download.

It stands in for CIFAR-10 where no data is at hand (tests, quick runs). It is made to be
learnable but not trivial, and to make patch size matter: three classes are fine textures
(periods of 3-7 pixels, visible inside one small patch), two are layouts of two objects
(defined only by how objects in different patches sit relative to each other), and five are
shapes.

Classes (sizes are for 32x32 images and scale with `image_size`):

0. disc          -- a filled circle, radius 6.5-11.
1. square        -- a filled square at a random rotation.
2. triangle      -- a filled equilateral triangle at a random rotation.
3. plus          -- a plus/cross of two bars at a random rotation (an "x" at 45 degrees).
4. ring          -- an annulus: the disc's outline with the background showing inside.
5. stripes       -- a disc- or square-shaped patch of two-colour stripes, random orientation,
                    period 3-6 px.
6. checkerboard  -- the same kind of patch holding a rotated checkerboard, cells 1.5-3 px.
7. dots          -- the same kind of patch holding a rotated lattice of dots, period 4-7 px.
8. side by side  -- two small discs, squares or triangles (radius 3-5) next to each other.
9. stacked       -- the same two objects one above the other.

Nuisances shared by all classes: a background that is a gentle gradient of a random colour
plus low-frequency colour noise; object colours (chosen to contrast with the background),
position, scale and rotation drawn at random; up to three distractors (thin line segments and
specks; two behind the object with p = 0.5 each, one over it with p = 0.25); Gaussian pixel
noise (std 0.01-0.04). Objects may be cut by the image border. Pixels are anti-aliased
(coverage of a signed distance), so the images are smooth at any `image_size`.
"""
from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F

from .cache import DataSplits, ImageData

SHAPES10_CLASSES = ["disc", "square", "triangle", "plus", "ring",
                    "stripes", "checkerboard", "dots", "side by side", "stacked"]


def make_shapes10(n_train: int = 5000, n_test: int = 1000, image_size: int = 32, seed: int = 0) -> DataSplits:
    """Train and test splits of shapes10 (see module docstring), class-balanced.

    Deterministic: the same arguments give bit-identical tensors (on a given torch build; float
    rounding on another CPU could move a rare pixel by one level, which the fingerprint would show).
    Train and test come from separate random streams derived from `seed`.
    """
    source = f"shapes10 drawn by patchlib.data.synthetic.make_shapes10 (seed {seed}, {image_size}x{image_size})"
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        generator = torch.Generator().manual_seed(_stream_seed(seed, split))
        images, labels = draw_shapes10(n, image_size, generator)
        splits[split] = ImageData.from_tensors(images, labels, SHAPES10_CLASSES, name="shapes10",
                                               source=f"{source}, {split} split")
    return DataSplits(**splits)


def _stream_seed(seed: int, split: str) -> int:
    """A 63-bit seed for one split's random stream, so train and test never share a stream."""
    return int.from_bytes(hashlib.sha256(f"shapes10/{seed}/{split}".encode()).digest()[:8], "little") >> 1


def draw_shapes10(n: int, image_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (uint8 [n, 3, S, S]) with balanced labels (int64 [n]), drawn with `generator`."""
    size, scale = image_size, image_size / 32
    labels = (torch.arange(n) % len(SHAPES10_CLASSES))[torch.randperm(n, generator=generator)]
    rand = _Random(generator, n)
    y, x = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")  # [S, S] each

    image = _background(rand, size)                                           # [n, 3, S, S]
    for _ in range(2):
        image = _draw_distractor(image, rand, x, y, scale, probability=0.5)
    mask, fill = torch.zeros(n, 1, size, size), torch.zeros(n, 3, size, size)
    background_colour = image.mean(dim=(2, 3))                                # [n, 3]
    for label, draw in enumerate(_CLASS_DRAWERS):
        index = (labels == label).nonzero().squeeze(1)
        if len(index):
            sub = _Random(generator, len(index))
            mask[index], fill[index] = draw(sub, x, y, scale, background_colour[index])
    image = torch.lerp(image, fill, mask)
    image = _draw_distractor(image, rand, x, y, scale, probability=0.25)      # occluding the object
    image = image + rand.uniform(0.01, 0.04)[:, None] * torch.randn(image.shape, generator=generator)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8), labels


class _Random:
    """Per-image random parameters of shape [n, 1, 1], ready to broadcast over [n, S, S]."""

    def __init__(self, generator: torch.Generator, n: int):
        self.generator, self.n = generator, n

    def uniform(self, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(self.n, 1, 1, generator=self.generator)

    def angle(self) -> torch.Tensor:
        return self.uniform(0, 2 * math.pi)

    def coin(self, p: float = 0.5) -> torch.Tensor:
        return self.uniform(0, 1) < p

    def colour(self) -> torch.Tensor:
        return torch.rand(self.n, 3, 1, 1, generator=self.generator)

    def contrasting_colour(self, against: torch.Tensor, candidates: int = 4) -> torch.Tensor:
        """Of a few random colours, the one farthest from `against` [n, 3]; [n, 3, 1, 1]."""
        options = torch.rand(self.n, candidates, 3, generator=self.generator)
        best = (options - against[:, None]).norm(dim=2).argmax(dim=1)
        return options[torch.arange(self.n), best][:, :, None, None]


# ----------------------------------------------------------------------------------------------
# Geometry: signed distances (negative inside, in pixels) and their anti-aliased coverage


def _coverage(distance: torch.Tensor) -> torch.Tensor:
    """Fraction of a pixel inside the shape, from its signed distance (1-pixel ramp)."""
    return (0.5 - distance).clamp(0, 1)


def _rotate(dx: torch.Tensor, dy: torch.Tensor, angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    cos, sin = angle.cos(), angle.sin()
    return cos * dx + sin * dy, -sin * dx + cos * dy


def _disc(dx, dy, radius, angle):
    return torch.hypot(dx, dy) - radius


def _square(dx, dy, radius, angle):
    u, v = _rotate(dx, dy, angle)
    return torch.maximum(u.abs(), v.abs()) - 0.8 * radius  # half side 0.8 r: about the disc's area


def _triangle(dx, dy, radius, angle):
    # inside = behind all three edges; the edge normals are 120 degrees apart, inradius 0.6 r
    normals = [angle + k * 2 * math.pi / 3 for k in range(3)]
    edges = [normal.cos() * dx + normal.sin() * dy for normal in normals]
    return torch.maximum(torch.maximum(edges[0], edges[1]), edges[2]) - 0.6 * radius


def _plus(dx, dy, radius, angle):
    u, v = _rotate(dx, dy, angle)
    half_width = 0.3 * radius
    horizontal = torch.maximum(u.abs() - radius, v.abs() - half_width)
    vertical = torch.maximum(u.abs() - half_width, v.abs() - radius)
    return torch.minimum(horizontal, vertical)


def _ring(dx, dy, radius, angle):
    return (torch.hypot(dx, dy) - 0.8 * radius).abs() - 0.22 * radius


def _centre(rand: _Random, size: int, margin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A random centre at least `margin` [n, 1, 1] from the border (less if the object is too big)."""
    margin = margin.clamp(max=size / 2)
    return (margin + (size - 2 * margin) * rand.uniform(0, 1),
            margin + (size - 2 * margin) * rand.uniform(0, 1))


# ----------------------------------------------------------------------------------------------
# Textures: patterns in [0, 1] over the whole image, shown through a disc or square window


def _stripes(rand: _Random, x, y, scale):
    u, _ = _rotate(x, y, rand.angle())
    period = scale * rand.uniform(3, 6)
    return (0.5 + 1.5 * torch.sin(2 * math.pi * u / period + rand.angle())).clamp(0, 1)


def _checkerboard(rand: _Random, x, y, scale):
    u, v = _rotate(x, y, rand.angle())
    cell = scale * rand.uniform(1.5, 3)
    return (0.5 + 2 * torch.sin(math.pi * u / cell) * torch.sin(math.pi * v / cell)).clamp(0, 1)


def _dots(rand: _Random, x, y, scale):
    u, v = _rotate(x, y, rand.angle())
    period = scale * rand.uniform(4, 7)
    du = (u / period + rand.uniform(0, 1)) % 1 - 0.5   # offset from the nearest lattice point, in periods
    dv = (v / period + rand.uniform(0, 1)) % 1 - 0.5
    return _coverage(period * (torch.hypot(du, dv) - 0.25))


# ----------------------------------------------------------------------------------------------
# One drawer per class: (mask [n, 1, S, S], fill [n, 3, S, S])


def _solid_shape(distance_fn):
    def draw(rand: _Random, x, y, scale, background):
        size = x.shape[-1]
        radius = scale * rand.uniform(6.5, 11)
        cx, cy = _centre(rand, size, 0.7 * radius)
        mask = _coverage(distance_fn(x - cx, y - cy, radius, rand.angle()))
        fill = rand.contrasting_colour(background).expand(-1, -1, size, size)
        return mask[:, None], fill
    return draw


def _textured_patch(pattern_fn):
    def draw(rand: _Random, x, y, scale, background):
        size = x.shape[-1]
        radius = scale * rand.uniform(8, 13)
        cx, cy = _centre(rand, size, 0.6 * radius)
        window = torch.where(rand.coin(), _disc(x - cx, y - cy, radius, angle=None),
                             _square(x - cx, y - cy, radius, rand.angle()))
        pattern = pattern_fn(rand, x, y, scale)[:, None]                         # [n, 1, S, S]
        first, second = rand.contrasting_colour(background), rand.contrasting_colour(background)
        second = torch.where((first - second).norm(dim=1, keepdim=True) < 0.3, 1 - first, second)
        return _coverage(window)[:, None], first + (second - first) * pattern
    return draw


def _pair(horizontal: bool):
    def draw(rand: _Random, x, y, scale, background):
        size = x.shape[-1]
        radius = scale * rand.uniform(3, 5)
        shape = rand.uniform(0, 3).floor()                                       # disc, square or triangle
        half_gap = radius + scale * rand.uniform(0.5, 3.5)                       # centre to midpoint
        along, across = half_gap, scale * rand.uniform(-1.5, 1.5)                # offsets of the second object
        offset_x, offset_y = (along, across) if horizontal else (across, along)
        cx, cy = _centre(rand, size, half_gap + radius)
        mask = torch.zeros(rand.n, size, size)
        for sign in (-1, 1):
            dx, dy = x - (cx + sign * offset_x), y - (cy + sign * offset_y)
            angle = rand.angle()
            distance = torch.where(shape == 0, _disc(dx, dy, radius, angle),
                                   torch.where(shape == 1, _square(dx, dy, radius, angle),
                                               _triangle(dx, dy, radius, angle)))
            mask = torch.maximum(mask, _coverage(distance))
        fill = rand.contrasting_colour(background).expand(-1, -1, size, size)
        return mask[:, None], fill
    return draw


_CLASS_DRAWERS = [_solid_shape(_disc), _solid_shape(_square), _solid_shape(_triangle), _solid_shape(_plus),
                  _solid_shape(_ring), _textured_patch(_stripes), _textured_patch(_checkerboard),
                  _textured_patch(_dots), _pair(horizontal=True), _pair(horizontal=False)]


# ----------------------------------------------------------------------------------------------
# Background and distractors


def _background(rand: _Random, size: int) -> torch.Tensor:
    """Two-colour linear gradient in a random direction plus low-frequency colour noise."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    direction = rand.angle()
    t = (0.5 + 0.5 * (direction.cos() * x + direction.sin() * y) / math.sqrt(2))[:, None]  # [n, 1, S, S]
    start = rand.colour()
    end = torch.lerp(start, rand.colour(), 0.4)                    # a gentle gradient
    gradient = start + (end - start) * t
    coarse_noise = torch.randn(rand.n, 3, 4, 4, generator=rand.generator) * rand.uniform(0.02, 0.08)[:, None]
    return gradient + F.interpolate(coarse_noise, size=(size, size), mode="bilinear", align_corners=False)


def _draw_distractor(image: torch.Tensor, rand: _Random, x, y, scale, probability: float) -> torch.Tensor:
    """With `probability` per image, a thin line segment (2/3) or a speck (1/3) in a random colour."""
    size = x.shape[-1]
    index = rand.coin(probability).flatten().nonzero().squeeze(1)   # only these images get one
    sub = _Random(rand.generator, len(index))
    ax, ay = sub.uniform(0, size), sub.uniform(0, size)
    length, angle = scale * sub.uniform(4, 10), sub.angle()
    bx, by = ax + length * angle.cos(), ay + length * angle.sin()
    # distance to the segment a-b: project onto it, clamp to its ends
    t = (((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / length**2).clamp(0, 1)
    segment = torch.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay)) - 0.5 * scale * sub.uniform(0.6, 1.2)
    speck = torch.hypot(x - ax, y - ay) - scale * sub.uniform(0.8, 1.6)
    mask = _coverage(torch.where(sub.coin(2 / 3), segment, speck))[:, None]   # [k, 1, S, S]
    image[index] = torch.lerp(image[index], sub.colour(), mask)
    return image
