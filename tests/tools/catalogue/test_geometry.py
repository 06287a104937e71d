"""Geometry tools on shapes whose answers are known in closed form."""

from __future__ import annotations

import math

import pytest

from synthloom.tools.catalogue import geometry as geom


def test_module_follows_the_catalogue_convention(catalogue_convention):
    catalogue_convention(geom, min_tools=5)


@pytest.mark.parametrize(("shape", "dimensions", "area", "perimeter"), [
    ("circle", {"radius": 2}, 4 * math.pi, 4 * math.pi),
    ("square", {"side": 3}, 9, 12),
    ("rectangle", {"width": 3, "height": 4.5}, 13.5, 15),
    ("triangle", {"a": 3, "b": 4, "c": 5}, 6, 12),
    ("triangle", {"a": 2, "b": 2, "c": 2}, math.sqrt(3), 6),
    ("ellipse", {"semi_major": 1, "semi_minor": 1}, math.pi, 2 * math.pi),   # a circle: Ramanujan's formula is exact
    ("trapezoid", {"base_a": 6, "base_b": 4, "leg_a": 2.5, "leg_b": 2.5, "height": 2}, 10, 15),
    ("parallelogram", {"base": 5, "side": 3, "height": 2}, 10, 16),
    ("rhombus", {"diagonal_a": 6, "diagonal_b": 8}, 24, 20),
    ("regular_polygon", {"sides": 4, "side": 2}, 4, 8),
    ("regular_polygon", {"sides": 6, "side": 1}, 3 * math.sqrt(3) / 2, 6),
])
def test_shape_area_perimeter(shape, dimensions, area, perimeter):
    result = geom.shape_area_perimeter(shape, dimensions)
    assert result == {"area": pytest.approx(area, abs=1e-6), "perimeter": pytest.approx(perimeter, abs=1e-6)}


def test_ellipse_perimeter_matches_the_elliptic_integral():
    assert geom.shape_area_perimeter("ellipse", {"semi_major": 2, "semi_minor": 1})["perimeter"] == pytest.approx(9.688448, abs=2e-6)
    assert geom.shape_area_perimeter("ellipse", {"semi_major": 5, "semi_minor": 3})["perimeter"] == pytest.approx(25.526999, abs=2e-6)


@pytest.mark.parametrize(("shape", "dimensions", "message"), [
    ("hexagon", {"side": 1}, "unknown shape 'hexagon'"),
    ("rectangle", {"width": 3}, "missing: height"),
    ("circle", {"radius": 1, "diameter": 2}, "unknown: diameter"),
    ("circle", {"radius": -1}, "positive number"),
    ("circle", {"radius": float("inf")}, "positive number"),
    ("triangle", {"a": 1, "b": 2, "c": 3}, "do not make a triangle"),
    ("parallelogram", {"base": 5, "side": 2, "height": 3}, "cannot exceed"),
    ("regular_polygon", {"sides": 2.5, "side": 1}, "whole number of sides"),
])
def test_shape_area_perimeter_refuses_bad_dimensions(shape, dimensions, message):
    with pytest.raises(ValueError, match=message):
        geom.shape_area_perimeter(shape, dimensions)


@pytest.mark.parametrize(("solid", "dimensions", "volume", "surface"), [
    ("cube", {"side": 2}, 8, 24),
    ("cuboid", {"length": 2, "width": 3, "height": 4}, 24, 52),
    ("sphere", {"radius": 3}, 36 * math.pi, 36 * math.pi),
    ("hemisphere", {"radius": 1}, 2 * math.pi / 3, 3 * math.pi),
    ("cylinder", {"radius": 1, "height": 2}, 2 * math.pi, 6 * math.pi),
    ("cone", {"radius": 3, "height": 4}, 12 * math.pi, 24 * math.pi),
    ("square_pyramid", {"base_side": 6, "height": 4}, 48, 96),
])
def test_solid_volume_surface(solid, dimensions, volume, surface):
    result = geom.solid_volume_surface(solid, dimensions)
    assert result == {"volume": pytest.approx(volume, abs=1e-6), "surface_area": pytest.approx(surface, abs=1e-6)}


def test_solid_volume_surface_refuses_bad_input():
    with pytest.raises(ValueError, match="unknown shape 'torus'"):
        geom.solid_volume_surface("torus", {"radius": 1})
    with pytest.raises(ValueError, match="needs dimensions radius, height"):
        geom.solid_volume_surface("cone", {"radius": 1})
    with pytest.raises(ValueError, match="positive number"):
        geom.solid_volume_surface("cube", {"side": 0})


def test_point_distance():
    assert geom.point_distance([0, 0], [3, 4]) == 5
    assert geom.point_distance([1, 2, 3], [4, 6, 3]) == 5
    assert geom.point_distance([-1.5], [2.5]) == 4
    with pytest.raises(ValueError, match="same dimension"):
        geom.point_distance([0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="1 to 10 coordinates"):
        geom.point_distance([], [])
    with pytest.raises(ValueError, match="finite numbers"):
        geom.point_distance([0, float("nan")], [1, 1])


def test_line_through_points():
    assert geom.line_through_points([0, 1], [2, 5]) == {"slope": 2, "y_intercept": 1, "equation": "y = 2x + 1",
                                                         "midpoint": [1, 3], "length": pytest.approx(math.sqrt(20), abs=1e-6)}
    assert geom.line_through_points([0, -2], [4, -4])["equation"] == "y = -0.5x - 2"
    vertical = geom.line_through_points([1, 1], [1, 5])
    assert vertical["slope"] is None and vertical["equation"] == "x = 1" and vertical["length"] == 4
    with pytest.raises(ValueError, match="two distinct points"):
        geom.line_through_points([1, 1], [1, 1])
    with pytest.raises(ValueError, match=r"\[x, y\]"):
        geom.line_through_points([1, 1, 1], [1, 2, 3])


def test_solve_triangle_sss_and_sas():
    right = geom.solve_triangle(3, 4, side_c=5)
    assert right["angles"] == {"A": pytest.approx(36.869898), "B": pytest.approx(53.130102), "C": 90}
    assert right["area"] == 6 and right["perimeter"] == 12 and right["kind"] == "scalene right"
    equilateral = geom.solve_triangle(2, 2, angle_c=60)
    assert equilateral["sides"]["c"] == pytest.approx(2) and equilateral["kind"] == "equilateral acute"
    sas = geom.solve_triangle(5, 7, angle_c=120)  # c² = 25 + 49 + 35 = 109
    assert sas["sides"]["c"] == pytest.approx(math.sqrt(109), abs=1e-6) and sas["kind"] == "scalene obtuse"
    assert sum(sas["angles"].values()) == pytest.approx(180)
    assert sas["area"] == pytest.approx(0.5 * 5 * 7 * math.sin(math.radians(120)), abs=1e-6)
    assert geom.solve_triangle(5, 5, side_c=8)["kind"] == "isosceles obtuse"


def test_solve_triangle_refuses_bad_input():
    with pytest.raises(ValueError, match="exactly one of side_c"):
        geom.solve_triangle(3, 4)
    with pytest.raises(ValueError, match="exactly one of side_c"):
        geom.solve_triangle(3, 4, side_c=5, angle_c=90)
    with pytest.raises(ValueError, match="do not make a triangle"):
        geom.solve_triangle(1, 1, side_c=5)
    with pytest.raises(ValueError, match="between 0 and 180"):
        geom.solve_triangle(1, 1, angle_c=180)
    with pytest.raises(ValueError, match="side_a must be a positive number"):
        geom.solve_triangle(0, 1, side_c=1)


def test_circle_from_circumference():
    assert geom.circle_from_circumference(10 * math.pi) == {"radius": 5, "diameter": 10, "area": pytest.approx(25 * math.pi, abs=1e-6)}
    with pytest.raises(ValueError, match="positive number"):
        geom.circle_from_circumference(-3)


def test_polygon_area():
    rectangle = geom.polygon_area([0, 4, 4, 0], [0, 0, 3, 3])
    assert rectangle == {"area": 12, "perimeter": 14, "orientation": "counterclockwise", "centroid": [2, 1.5]}
    assert geom.polygon_area([0, 0, 4], [0, 3, 0])["orientation"] == "clockwise"
    l_shape = geom.polygon_area([0, 2, 2, 1, 1, 0], [0, 0, 1, 1, 2, 2])
    assert l_shape["area"] == 3 and l_shape["perimeter"] == 8
    with pytest.raises(ValueError, match="same length"):
        geom.polygon_area([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="3 to 10000 vertices"):
        geom.polygon_area([0, 1], [0, 1])
    with pytest.raises(ValueError, match="enclose no area"):
        geom.polygon_area([0, 1, 2], [0, 1, 2])


def test_regular_polygon_angles():
    assert geom.regular_polygon_angles(6) == {"interior_angle": 120, "exterior_angle": 60, "interior_angle_sum": 720, "diagonals": 9}
    assert geom.regular_polygon_angles(3)["diagonals"] == 0
    for bad in (2, 1001, True):
        with pytest.raises(ValueError, match="3 to 1000"):
            geom.regular_polygon_angles(bad)
