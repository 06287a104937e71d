"""Grid puzzles: neighbours, flood fill and path lengths on small character maps.

Written for synthloom's bundled seed corpus (OSS-Instruct windows, Case2Code functions).
"""

from collections import deque


def parse_grid(rows):
    """A list of strings as a list of lists of characters (all rows the same length)."""
    if len({len(r) for r in rows}) > 1:
        raise ValueError("rows differ in length")
    return [list(r) for r in rows]


def neighbours(grid, r, c):
    """The in-bounds up/down/left/right neighbours of cell (r, c)."""
    out = []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = r + dr, c + dc
        if 0 <= nr < len(grid) and 0 <= nc < len(grid[0]):
            out.append((nr, nc))
    return out


def count_regions(rows, wall="#"):
    """How many connected open regions (4-neighbourhood) a map has."""
    grid = parse_grid(rows)
    seen = set()
    regions = 0
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell == wall or (r, c) in seen:
                continue
            regions += 1
            stack = [(r, c)]
            seen.add((r, c))
            while stack:
                cr, cc = stack.pop()
                for nr, nc in neighbours(grid, cr, cc):
                    if grid[nr][nc] != wall and (nr, nc) not in seen:
                        seen.add((nr, nc))
                        stack.append((nr, nc))
    return regions


def shortest_path(rows, start, goal, wall="#"):
    """The number of steps from ``start`` to ``goal`` ((row, col) pairs), or -1 when unreachable."""
    grid = parse_grid(rows)
    start, goal = tuple(start), tuple(goal)
    queue = deque([(start, 0)])
    seen = {start}
    while queue:
        cell, dist = queue.popleft()
        if cell == goal:
            return dist
        for nxt in neighbours(grid, *cell):
            if grid[nxt[0]][nxt[1]] != wall and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, dist + 1))
    return -1


def transpose(rows):
    """The map mirrored along its diagonal."""
    return ["".join(col) for col in zip(*rows)]


def solve_maze(rows):
    """Steps from the ``S`` to the ``E`` of a maze, or -1."""
    find = {ch: (r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in "SE"}
    if set(find) != {"S", "E"}:
        raise ValueError("a maze needs one S and one E")
    return shortest_path(rows, find["S"], find["E"])


if __name__ == "__main__":
    maze = ["S.#.", "..#.", "#..E"]
    print(solve_maze(maze), count_regions(["..#..", "..#..", "#####"]))
    print(shortest_path(["...", ".#.", "..."], (0, 0), [2, 2]), transpose(["ab", "cd"]))
