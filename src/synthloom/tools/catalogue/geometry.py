"""Geometry: areas and perimeters of plane shapes, volumes of solids, distances, triangles and polygons.

Lengths are in any one consistent unit (areas come out in that unit squared, volumes cubed); angles are in
degrees. Results are rounded to 6 decimal places.
"""

import math
from typing import Literal

CATEGORY = "geometry"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

Shape = Literal["circle", "square", "rectangle", "triangle", "ellipse", "trapezoid", "parallelogram", "rhombus", "regular_polygon"]
Solid = Literal["cube", "cuboid", "sphere", "cylinder", "cone", "square_pyramid", "hemisphere"]

_SHAPE_KEYS = {
    "circle": ("radius",),
    "square": ("side",),
    "rectangle": ("width", "height"),
    "triangle": ("a", "b", "c"),
    "ellipse": ("semi_major", "semi_minor"),
    "trapezoid": ("base_a", "base_b", "leg_a", "leg_b", "height"),
    "parallelogram": ("base", "side", "height"),
    "rhombus": ("diagonal_a", "diagonal_b"),
    "regular_polygon": ("sides", "side"),
}
_SOLID_KEYS = {
    "cube": ("side",),
    "cuboid": ("length", "width", "height"),
    "sphere": ("radius",),
    "hemisphere": ("radius",),
    "cylinder": ("radius", "height"),
    "cone": ("radius", "height"),
    "square_pyramid": ("base_side", "height"),
}


def _r(value: float) -> float:
    return round(value, 6)


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, not {value!r}")
    return float(value)


def _dimensions(kind: str, dimensions: dict, table: dict) -> dict:
    if kind not in table:
        raise ValueError(f"unknown shape {kind!r}; use one of {', '.join(table)}")
    if not isinstance(dimensions, dict):
        raise ValueError(f"dimensions must be an object such as {{{', '.join(repr(k) + ': 1' for k in table[kind])}}}")
    needed = table[kind]
    missing = [k for k in needed if k not in dimensions]
    extra = [k for k in dimensions if k not in needed]
    if missing or extra:
        raise ValueError(f"a {kind} needs dimensions {', '.join(needed)} (missing: {', '.join(missing) or 'none'}; "
                         f"unknown: {', '.join(extra) or 'none'})")
    return {k: _positive(dimensions[k], f"dimensions[{k!r}]") for k in needed}


def _triangle_angles(a: float, b: float, c: float) -> tuple[float, float, float]:
    """Angles (degrees) opposite sides a, b, c by the law of cosines."""
    def angle(opposite: float, x: float, y: float) -> float:
        return math.degrees(math.acos(max(-1.0, min(1.0, (x * x + y * y - opposite * opposite) / (2 * x * y)))))
    return angle(a, b, c), angle(b, a, c), angle(c, a, b)


def _check_triangle(a: float, b: float, c: float) -> None:
    if a + b <= c or a + c <= b or b + c <= a:
        raise ValueError(f"sides {a:g}, {b:g}, {c:g} do not make a triangle: each side must be shorter than the other two together")


def shape_area_perimeter(shape: Shape, dimensions: dict[str, float]) -> dict:
    """Area and perimeter of a plane shape.

    The dimensions each shape needs: circle radius; square side; rectangle width, height; triangle a, b, c
    (three sides); ellipse semi_major, semi_minor; trapezoid base_a, base_b, leg_a, leg_b, height;
    parallelogram base, side, height; rhombus diagonal_a, diagonal_b; regular_polygon sides (count), side.

    Args:
        shape: The plane shape.
        dimensions: The shape's dimensions by name, e.g. {"width": 3, "height": 4} for a rectangle.

    Returns:
        area and perimeter (the ellipse's perimeter by Ramanujan's second approximation).
    """
    d = _dimensions(shape, dimensions, _SHAPE_KEYS)
    if shape == "circle":
        area, perimeter = math.pi * d["radius"] ** 2, 2 * math.pi * d["radius"]
    elif shape == "square":
        area, perimeter = d["side"] ** 2, 4 * d["side"]
    elif shape == "rectangle":
        area, perimeter = d["width"] * d["height"], 2 * (d["width"] + d["height"])
    elif shape == "triangle":
        a, b, c = d["a"], d["b"], d["c"]
        _check_triangle(a, b, c)
        s = (a + b + c) / 2
        area, perimeter = math.sqrt(max(0.0, s * (s - a) * (s - b) * (s - c))), a + b + c
    elif shape == "ellipse":
        x, y = d["semi_major"], d["semi_minor"]
        area = math.pi * x * y
        h = ((x - y) / (x + y)) ** 2
        perimeter = math.pi * (x + y) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))
    elif shape == "trapezoid":
        area = (d["base_a"] + d["base_b"]) / 2 * d["height"]
        perimeter = d["base_a"] + d["base_b"] + d["leg_a"] + d["leg_b"]
    elif shape == "parallelogram":
        if d["height"] > d["side"]:
            raise ValueError("a parallelogram's height cannot exceed its slanted side")
        area, perimeter = d["base"] * d["height"], 2 * (d["base"] + d["side"])
    elif shape == "rhombus":
        p, q = d["diagonal_a"], d["diagonal_b"]
        area, perimeter = p * q / 2, 2 * math.sqrt(p * p + q * q)
    else:
        n, side = d["sides"], d["side"]
        if n != int(n) or n < 3:
            raise ValueError(f"a regular polygon needs a whole number of sides, at least 3, not {n:g}")
        area, perimeter = n * side * side / (4 * math.tan(math.pi / n)), n * side
    return {"area": _r(area), "perimeter": _r(perimeter)}


def solid_volume_surface(solid: Solid, dimensions: dict[str, float]) -> dict:
    """Volume and total surface area of a solid.

    The dimensions each solid needs: cube side; cuboid length, width, height; sphere and hemisphere radius;
    cylinder and cone radius, height; square_pyramid base_side, height.

    Args:
        solid: The solid.
        dimensions: The solid's dimensions by name, e.g. {"radius": 2, "height": 5} for a cylinder.

    Returns:
        volume and surface_area (including bases; a hemisphere's includes its flat disc).
    """
    d = _dimensions(solid, dimensions, _SOLID_KEYS)
    if solid == "cube":
        volume, surface = d["side"] ** 3, 6 * d["side"] ** 2
    elif solid == "cuboid":
        a, b, c = d["length"], d["width"], d["height"]
        volume, surface = a * b * c, 2 * (a * b + b * c + a * c)
    elif solid == "sphere":
        volume, surface = 4 / 3 * math.pi * d["radius"] ** 3, 4 * math.pi * d["radius"] ** 2
    elif solid == "hemisphere":
        volume, surface = 2 / 3 * math.pi * d["radius"] ** 3, 3 * math.pi * d["radius"] ** 2
    elif solid == "cylinder":
        r, h = d["radius"], d["height"]
        volume, surface = math.pi * r * r * h, 2 * math.pi * r * (r + h)
    elif solid == "cone":
        r, h = d["radius"], d["height"]
        volume, surface = math.pi * r * r * h / 3, math.pi * r * (r + math.hypot(r, h))
    else:
        s, h = d["base_side"], d["height"]
        volume, surface = s * s * h / 3, s * s + 2 * s * math.hypot(s / 2, h)
    return {"volume": _r(volume), "surface_area": _r(surface)}


def _point(values: list[float], what: str) -> list[float]:
    if not isinstance(values, list) or not 1 <= len(values) <= 10:
        raise ValueError(f"{what} must be a list of 1 to 10 coordinates, e.g. [1, 2], not {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} must hold finite numbers, not {v!r}")
    return [float(v) for v in values]


def point_distance(point_a: list[float], point_b: list[float]) -> float:
    """Euclidean distance between two points with the same number of coordinates (2D, 3D, ...).

    Args:
        point_a: Coordinates of the first point, e.g. [0, 0].
        point_b: Coordinates of the second point, e.g. [3, 4].

    Returns:
        The straight-line distance.
    """
    a, b = _point(point_a, "point_a"), _point(point_b, "point_b")
    if len(a) != len(b):
        raise ValueError(f"point_a has {len(a)} coordinates but point_b has {len(b)}; give both in the same dimension")
    return _r(math.dist(a, b))


def line_through_points(point_a: list[float], point_b: list[float]) -> dict:
    """The straight line through two points of the plane: slope, intercept, equation and midpoint.

    Args:
        point_a: The first point as [x, y].
        point_b: The second point as [x, y].

    Returns:
        slope and y_intercept (None for a vertical line), equation (as text), midpoint [x, y] and length.
    """
    a, b = _point(point_a, "point_a"), _point(point_b, "point_b")
    if len(a) != 2 or len(b) != 2:
        raise ValueError("point_a and point_b must each be [x, y]")
    if a == b:
        raise ValueError(f"the two points are the same ({a}); a line needs two distinct points")
    midpoint = [_r((a[0] + b[0]) / 2), _r((a[1] + b[1]) / 2)]
    if a[0] == b[0]:
        return {"slope": None, "y_intercept": None, "equation": f"x = {a[0]:g}", "midpoint": midpoint, "length": _r(math.dist(a, b))}
    slope = (b[1] - a[1]) / (b[0] - a[0])
    intercept = a[1] - slope * a[0]
    sign = "-" if intercept < 0 else "+"
    equation = f"y = {_r(slope):g}x {sign} {abs(_r(intercept)):g}"
    return {"slope": _r(slope), "y_intercept": _r(intercept), "equation": equation, "midpoint": midpoint, "length": _r(math.dist(a, b))}


def solve_triangle(side_a: float, side_b: float, side_c: float | None = None, angle_c: float | None = None) -> dict:
    """Solve a triangle by the law of cosines from three sides (SSS) or two sides and their included angle (SAS).

    Args:
        side_a: Length of side a.
        side_b: Length of side b.
        side_c: Length of side c (give this or angle_c, not both).
        angle_c: The angle C between sides a and b, in degrees, strictly between 0 and 180.

    Returns:
        sides {a, b, c}, angles {A, B, C} in degrees (each opposite its side), area, perimeter and kind
        ("equilateral", "isosceles" or "scalene", plus "right"/"obtuse"/"acute").
    """
    a, b = _positive(side_a, "side_a"), _positive(side_b, "side_b")
    if (side_c is None) == (angle_c is None):
        raise ValueError("give exactly one of side_c (three sides known) or angle_c (the angle between side_a and side_b)")
    if side_c is not None:
        c = _positive(side_c, "side_c")
    else:
        gamma = _positive(angle_c, "angle_c")
        if gamma >= 180:
            raise ValueError(f"angle_c must be between 0 and 180 degrees, not {angle_c!r}")
        c = math.sqrt(max(0.0, a * a + b * b - 2 * a * b * math.cos(math.radians(gamma))))
    _check_triangle(a, b, c)
    big_a, big_b, big_c = _triangle_angles(a, b, c)
    area = 0.5 * a * b * math.sin(math.radians(big_c))
    sides = sorted((a, b, c))
    equal = sum(math.isclose(x, y, rel_tol=1e-9) for x, y in ((sides[0], sides[1]), (sides[1], sides[2])))
    shape = "equilateral" if equal == 2 else "isosceles" if equal == 1 else "scalene"
    largest = max(big_a, big_b, big_c)
    corner = "right" if math.isclose(largest, 90.0, abs_tol=1e-7) else "obtuse" if largest > 90 else "acute"
    return {
        "sides": {"a": _r(a), "b": _r(b), "c": _r(c)},
        "angles": {"A": _r(big_a), "B": _r(big_b), "C": _r(big_c)},
        "area": _r(area),
        "perimeter": _r(a + b + c),
        "kind": f"{shape} {corner}",
    }


def circle_from_circumference(circumference: float) -> dict:
    """Radius, diameter and area of the circle with a given circumference.

    Args:
        circumference: The circle's circumference (perimeter), positive.

    Returns:
        radius, diameter and area.
    """
    radius = _positive(circumference, "circumference") / (2 * math.pi)
    return {"radius": _r(radius), "diameter": _r(2 * radius), "area": _r(math.pi * radius * radius)}


def polygon_area(xs: list[float], ys: list[float]) -> dict:
    """Area, perimeter and centroid of a simple polygon from its vertices (shoelace formula).

    Args:
        xs: The vertices' x coordinates, in order around the polygon (at least 3, at most 10000).
        ys: The vertices' y coordinates, in the same order.

    Returns:
        area (positive), perimeter, orientation ("counterclockwise" or "clockwise") and centroid [x, y].
    """
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise ValueError("xs and ys must be lists of the same length, one entry per vertex")
    if not 3 <= len(xs) <= 10000:
        raise ValueError(f"a polygon needs 3 to 10000 vertices, not {len(xs)}")
    pts = list(zip(_finite(xs, "xs"), _finite(ys, "ys")))
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))
    if twice == 0:
        raise ValueError("the vertices enclose no area (they are collinear or the polygon folds onto itself)")
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1])) / (3 * twice)
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1])) / (3 * twice)
    perimeter = sum(math.dist(p, q) for p, q in zip(pts, pts[1:] + pts[:1]))
    return {
        "area": _r(abs(twice) / 2),
        "perimeter": _r(perimeter),
        "orientation": "counterclockwise" if twice > 0 else "clockwise",
        "centroid": [_r(cx), _r(cy)],
    }


def _finite(values: list, what: str) -> list[float]:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} must hold finite numbers, not {v!r}")
    return [float(v) for v in values]


def regular_polygon_angles(sides: int) -> dict:
    """Angles and diagonals of a regular polygon with a given number of sides.

    Args:
        sides: Number of sides, 3 to 1000.

    Returns:
        interior_angle and exterior_angle (degrees), interior_angle_sum (degrees) and diagonals (count).
    """
    if isinstance(sides, bool) or not isinstance(sides, int) or not 3 <= sides <= 1000:
        raise ValueError(f"sides must be a whole number from 3 to 1000, not {sides!r}")
    return {
        "interior_angle": _r(180 * (sides - 2) / sides),
        "exterior_angle": _r(360 / sides),
        "interior_angle_sum": 180 * (sides - 2),
        "diagonals": sides * (sides - 3) // 2,
    }
