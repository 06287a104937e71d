-- The retail store environment: customers, their payment methods, the product catalogue with
-- variants (options, price, stock), orders with one row per ordered unit, and the payments and
-- refunds of each order. Money is in dollars, rounded to cents.
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    address1    TEXT NOT NULL,
    address2    TEXT NOT NULL,
    city        TEXT NOT NULL,
    state       TEXT NOT NULL,
    country     TEXT NOT NULL,
    zip         TEXT NOT NULL
);

CREATE TABLE payment_methods (
    payment_method_id TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(user_id),
    kind              TEXT NOT NULL CHECK (kind IN ('credit_card', 'gift_card', 'paypal')),
    brand             TEXT,
    last_four         TEXT,
    balance           REAL CHECK (balance IS NULL OR balance >= 0)
);

CREATE TABLE products (
    product_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL
);

CREATE TABLE variants (
    item_id     TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL REFERENCES products(product_id),
    options     TEXT NOT NULL,  -- JSON object, e.g. {"color": "black", "size": "M"}
    price       REAL NOT NULL,
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);

CREATE TABLE orders (
    order_id      TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(user_id),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'pending (items modified)', 'processed', 'delivered',
                                                  'cancelled', 'return requested', 'exchange requested')),
    placed_on     TEXT NOT NULL,
    address1      TEXT NOT NULL,
    address2      TEXT NOT NULL,
    city          TEXT NOT NULL,
    state         TEXT NOT NULL,
    country       TEXT NOT NULL,
    zip           TEXT NOT NULL,
    cancel_reason TEXT
);

CREATE TABLE order_items (
    order_id     TEXT NOT NULL REFERENCES orders(order_id),
    line         INTEGER NOT NULL,
    item_id      TEXT NOT NULL REFERENCES variants(item_id),
    product_id   TEXT NOT NULL REFERENCES products(product_id),
    price        REAL NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ordered', 'return requested', 'exchange requested')),
    new_item_id  TEXT,  -- the variant an exchange asked for
    PRIMARY KEY (order_id, line)
);

CREATE TABLE payments (
    order_id          TEXT NOT NULL REFERENCES orders(order_id),
    seq               INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    payment_method_id TEXT NOT NULL REFERENCES payment_methods(payment_method_id),
    amount            REAL NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (order_id, seq)
);
