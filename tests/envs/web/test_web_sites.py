"""The bundled web sites without a browser: a fresh database per episode from the seed, pages and forms over HTTP on
loopback, the server stopped (and its database removed) on exit."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

import pytest

from synthloom.envs.web import SiteServer, seed_state
from synthloom.envs.web.sites import site_module
from synthloom.envs.web.sites.common import parse_price


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, **fields) -> tuple[int, str, str]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(url, data, timeout=10) as r:
            return r.status, r.geturl(), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, url, e.read().decode()


def test_each_episode_starts_from_its_seed_and_is_gone_afterwards():
    with SiteServer("shop", seed=4) as site:
        assert site.url.startswith("http://127.0.0.1:")
        assert site.state() == seed_state("shop", 4)
        post(site.url + "/cart/add", product_id=1, quantity=2)
        assert site.state()["cart_items"] == [{"product_id": 1, "quantity": 2}]
        db, url = site.db_path, site.url
    assert not os.path.exists(db)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    with SiteServer("shop", seed=4) as again:
        assert again.state()["cart_items"] == []
    assert seed_state("shop", 4) != seed_state("shop", 5)
    assert [p["name"] for p in seed_state("shop", 4)["products"]] == [p["name"] for p in seed_state("shop", 5)["products"]]


def test_shop_checkout_moves_the_cart_into_an_order_and_takes_the_stock():
    with SiteServer("shop", seed=1) as site:
        stock = site.query("SELECT stock FROM products WHERE product_id = 3")[0]["stock"]
        status, _, body = post(site.url + "/checkout", customer="Ada", address="London")
        assert status == 400 and "Your cart is empty" in body
        post(site.url + "/cart/add", product_id=3, quantity=2)
        status, where, body = post(site.url + "/checkout", customer="", address="London")
        assert status == 400 and "full name" in body
        status, where, body = post(site.url + "/checkout", customer="Ada", address="London")
        assert status == 200 and where.endswith("/orders/3") and "2 × Bamboo Cutting Board" in body
        assert site.query("SELECT stock FROM products WHERE product_id = 3")[0]["stock"] == stock - 2
        assert site.query("SELECT * FROM order_items WHERE order_id = 3") == [
            {"order_id": 3, "product_id": 3, "quantity": 2, "price_cents": site.query("SELECT price_cents FROM products "
                                                                                       "WHERE product_id = 3")[0]["price_cents"]}]
        assert site.state()["cart_items"] == []
        status, _, _ = post(site.url + "/admin/product/3", price="12.5", stock="7")
        assert site.query("SELECT price_cents, stock FROM products WHERE product_id = 3") == [{"price_cents": 1250, "stock": 7}]
        status, _, body = post(site.url + "/admin/product/3", price="cheap", stock="7")
        assert status == 400 and "12.50" in body
        assert get(site.url + "/search?q=kettle")[1].count("/product/") == 1
        assert get(site.url + "/nowhere")[0] == 404


def test_forum_reply_edit_and_publish():
    with SiteServer("forum", seed=2) as site:
        status, _, body = post(site.url + "/post/3/reply", reply="Water less")
        assert status == 200 and "you: Water less" in body
        assert post(site.url + "/post/3/reply", reply="  ")[0] == 400
        post(site.url + "/post/2/edit", title="Forum rules", body="Be kind. Updated.")
        assert site.query("SELECT body FROM posts WHERE post_id = 2") == [{"body": "Be kind. Updated."}]
        status, where, body = post(site.url + "/new", board="cooking", title="Soup", body="Leek soup")
        assert status == 200 and "<h1>Soup</h1>" in body and where.endswith(f"/post/{len(site_module('forum').POSTS) + 1}")
        assert post(site.url + "/new", board="nowhere", title="x", body="y")[0] == 400
        assert get(site.url + "/post/2")[0] == 200 and get(site.url + "/post/99")[0] == 404


def test_prices_are_read_like_a_person_writes_them():
    assert [parse_price(t) for t in ("12.5", "$12.50", "12", " 7.05 ", "1.234", "abc", "")] == [1250, 1250, 1200, 705, None, None, None]


def test_an_unknown_site_says_which_exist():
    with pytest.raises(ValueError, match="bundled sites are forum, shop"):
        SiteServer("blog")
