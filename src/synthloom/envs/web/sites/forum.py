"""Loom Forum: a small discussion board (boards, posts, replies, new posts, post editing, search) over SQLite.

The agent is signed in as ``you``. Post titles and bodies are fixed (so tutorials can name them); authors and the
existing replies are drawn from the episode's seed.
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from .common import Reply, Request, SiteApp, document, esc, field_input, field_textarea, form, not_found, page, redirect

NAME = "Loom Forum"
USER = "you"
SCHEMA = """
CREATE TABLE posts (post_id INTEGER PRIMARY KEY, board TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
                    author TEXT NOT NULL);
CREATE TABLE replies (reply_id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, body TEXT NOT NULL, author TEXT NOT NULL);
"""
KEYS = {"posts": ["post_id"], "replies": ["reply_id"]}
BOARDS = ["general", "gardening", "cooking"]
POSTS = [
    ("general", "Welcome to the forum", "Introduce yourself here and say what brings you to the forum."),
    ("general", "Forum rules", "Be kind, stay on topic and search before you post."),
    ("gardening", "Tomatoes splitting after rain", "My tomatoes crack every time it rains. What can I do?"),
    ("gardening", "Best time to plant garlic", "When do you plant garlic in a cold climate?"),
    ("gardening", "Compost smells sour", "My compost heap smells sour. Too many kitchen scraps?"),
    ("cooking", "Sourdough starter not rising", "My starter stopped bubbling after a week. Any tips?"),
    ("cooking", "Weeknight pasta ideas", "Share a pasta you can make in twenty minutes."),
    ("cooking", "Cast iron care", "How do you clean a cast iron pan without ruining the seasoning?"),
]
MEMBERS = ["maria", "tom", "lena", "kofi", "yuki", "sam"]
REPLIES = ["Thanks for posting this!", "I have the same problem.", "Water less and mulch well.",
           "Try feeding it twice a day.", "Salt and a stiff brush work for me.", "Great question, following."]


def seed_rows(seed: int) -> dict[str, list[dict[str, Any]]]:
    """The forum's rows for episode ``seed``: every post (authors drawn from the seed) and a few replies."""
    rng = random.Random(f"forum:{seed}")
    posts = [{"post_id": i, "board": b, "title": t, "body": body, "author": rng.choice(MEMBERS)}
             for i, (b, t, body) in enumerate(POSTS, 1)]
    replies = [{"reply_id": i, "post_id": rng.randint(1, len(POSTS)), "body": rng.choice(REPLIES), "author": rng.choice(MEMBERS)}
               for i in range(1, rng.randint(3, 6) + 1)]
    return {"posts": posts, "replies": replies}


def _layout(title: str, body: str, db: sqlite3.Connection) -> str:
    nav = f'<a href="/">Home</a> | <a href="/new">New post</a> | <a href="/search">Search</a> | signed in as {USER}'
    return document(NAME, title, nav, body)


def _post_list(rows: list[sqlite3.Row], db: sqlite3.Connection) -> str:
    if not rows:
        return "<p>No posts found.</p>"
    counts = dict(db.execute("SELECT post_id, COUNT(*) FROM replies GROUP BY post_id").fetchall())
    return "<ul>" + "".join(f'<li><a href="/post/{r["post_id"]}">{esc(r["title"])}</a> by {esc(r["author"])} '
                            f'({counts.get(r["post_id"], 0)} replies)</li>' for r in rows) + "</ul>"


def home(req: Request) -> Reply:
    parts = []
    for board in BOARDS:
        rows = req.db.execute("SELECT * FROM posts WHERE board = ? ORDER BY post_id", (board,)).fetchall()
        parts.append(f'<h2><a href="/board/{board}">{board.title()}</a></h2>' + _post_list(rows, req.db))
    return page("Loom Forum", *parts)


def board(req: Request) -> Reply:
    if req.args[0] not in BOARDS:
        return not_found(f"No board {req.args[0]}.")
    rows = req.db.execute("SELECT * FROM posts WHERE board = ? ORDER BY post_id", (req.args[0],)).fetchall()
    return page(f"Board: {req.args[0].title()}", _post_list(rows, req.db))


def search(req: Request) -> Reply:
    q = req.query.get("q", "").strip()
    box = '<form method="get" action="/search">' + field_input("q", "Search posts", q) + '<button type="submit">Search</button></form>'
    if not q:
        return page("Search", box)
    rows = req.db.execute("SELECT * FROM posts WHERE title LIKE ? OR body LIKE ? ORDER BY post_id", (f"%{q}%", f"%{q}%")).fetchall()
    return page(f"Search results for {q!r}", box, _post_list(rows, req.db))


def _post(req: Request) -> sqlite3.Row | None:
    return req.db.execute("SELECT * FROM posts WHERE post_id = ?", (req.args[0],)).fetchone()


def post(req: Request) -> Reply:
    p = _post(req)
    if p is None:
        return not_found(f"No post {req.args[0]}.")
    replies = req.db.execute("SELECT * FROM replies WHERE post_id = ? ORDER BY reply_id", (p["post_id"],)).fetchall()
    thread = "".join(f"<li>{esc(r['author'])}: {esc(r['body'])}</li>" for r in replies) or "<li>No replies yet.</li>"
    return page(p["title"], f"<p>Posted by {esc(p['author'])} in {p['board'].title()}</p><p>{esc(p['body'])}</p>",
                f'<p><a href="/post/{p["post_id"]}/edit">Edit post</a></p>', f"<h2>Replies</h2><ul>{thread}</ul>",
                form(f"/post/{p['post_id']}/reply", field_textarea("reply", "Your reply"), "Post reply"))


def reply(req: Request) -> Reply:
    p = _post(req)
    body = req.form.get("reply", "").strip()
    if p is None or not body:
        return Reply("<h1>Could not post the reply</h1><p>Write something in the reply box first.</p>", "400 Bad Request")
    req.db.execute("INSERT INTO replies (post_id, body, author) VALUES (?, ?, ?)", (p["post_id"], body, USER))
    return redirect(f"/post/{p['post_id']}")


def edit(req: Request) -> Reply:
    p = _post(req)
    if p is None:
        return not_found(f"No post {req.args[0]}.")
    return page(f"Edit: {p['title']}", form(f"/post/{p['post_id']}/edit", field_input("title", "Title", p["title"])
                                            + field_textarea("body", "Body", p["body"]), "Save changes"))


def save(req: Request) -> Reply:
    p = _post(req)
    title, body = req.form.get("title", "").strip(), req.form.get("body", "").strip()
    if p is None or not title or not body:
        return Reply("<h1>Could not save the post</h1><p>A post needs a title and a body.</p>", "400 Bad Request")
    req.db.execute("UPDATE posts SET title = ?, body = ? WHERE post_id = ?", (title, body, p["post_id"]))
    return redirect(f"/post/{p['post_id']}")


def new(req: Request) -> Reply:
    options = "".join(f'<option value="{b}">{b.title()}</option>' for b in BOARDS)
    fields = (f'<p><label for="board">Board</label> <select id="board" name="board">{options}</select></p>'
              + field_input("title", "Title") + field_textarea("body", "Body"))
    return page("New post", form("/new", fields, "Publish"))


def publish(req: Request) -> Reply:
    b, title, body = req.form.get("board", ""), req.form.get("title", "").strip(), req.form.get("body", "").strip()
    if b not in BOARDS or not title or not body:
        return Reply("<h1>Could not publish</h1><p>Choose a board and give a title and a body.</p>", "400 Bad Request")
    post_id = req.db.execute("INSERT INTO posts (board, title, body, author) VALUES (?, ?, ?, ?)", (b, title, body, USER)).lastrowid
    return redirect(f"/post/{post_id}")


def app(db_path: str) -> SiteApp:
    """The forum as a WSGI application over the database at ``db_path``."""
    return SiteApp(db_path, [
        ("GET", r"/", home), ("GET", r"/board/([a-z]+)", board), ("GET", r"/search", search),
        ("GET", r"/post/(\d+)", post), ("POST", r"/post/(\d+)/reply", reply), ("GET", r"/post/(\d+)/edit", edit),
        ("POST", r"/post/(\d+)/edit", save), ("GET", r"/new", new), ("POST", r"/new", publish),
    ], _layout)
