#!/usr/bin/env python3
"""Generate deterministic synthetic chat conversations for kura-dagster.

What it makes
    A landing zone ``<out>/<dataset>/<YYYY-MM-DD>.jsonl`` for two datasets,
    ``coding_assistant`` (a programming helper) and ``support_bot`` (customer
    support for an online shop with payments and accounts), one file per day.
    Each line is one conversation::

        {"chat_id": "coding_assistant-2026-11-01-0007",
         "created_at": "2026-11-01T09:14:03Z",
         "messages": [{"role": "user", "content": "..."}, ...],
         "metadata": {"user_id": "u0421", "model": "...", "channel": "web"}}

Why
    The pipeline (summaries -> embeddings -> clusters -> topic hierarchy) needs
    input that looks like real traffic without shipping real user data. The
    conversations are therefore built from hand-written templates per theme
    (15 per dataset) with slot-filled details (error messages, code snippets,
    order numbers, products), several phrasings per theme, 2-8 alternating
    turns with varied follow-ups (thanks, "still failing", clarifications,
    frustration, rare concerning requests) and ~13% non-English chats
    (es/fr/de/pt). Theme popularity is skewed and drifts per day, and one theme
    per dataset emerges late in the week, so clustering and trend views have
    something to find. The theme is never written into the records; use
    ``--labels FILE`` (outside the landing zone) to get a ``chat_id,dataset,theme,language``
    CSV for benchmarks (bench/naming.py computes the same labels in memory).

Determinism
    Only the standard library and ``random.Random`` seeded from strings
    (``seed:dataset:date``) are used, so reruns give byte-identical files.
    All details are obviously fake (order numbers SH-..., example.com emails).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import re
from pathlib import Path

SLOT_RE = re.compile(r"\{([a-z][a-z_0-9]*)\}")  # digits too: {last4}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def T(weight, openers, replies, clarify, still, slots=None, concern=None, grow=None):
    """One theme: opener phrasings, assistant replies, (question, answer) clarifications,
    'still broken' sentences, slot values, optional concerning requests and a per-day
    popularity multiplier (``grow``) for emerging themes."""
    return dict(
        weight=weight,
        openers=openers,
        replies=replies,
        clarify=clarify,
        still=still,
        slots=slots or {},
        concern=concern or [],
        grow=grow,
    )


EMERGING = [0.0, 0.0, 0.0, 0.25, 0.8, 1.6, 2.4]

# --------------------------------------------------------------------------- coding
CODING = {
    "pandas_errors": T(
        10,
        [
            "pandas {err}",
            "getting `{err}` and I don't get why\n```python\n{code}\n```",
            "I'm cleaning a CSV with ~{n}00k rows in pandas {ver} and I keep hitting `{err}`. The column `{col}` is definitely there when I print df.columns. Snippet:\n```python\n{code}\n```\nWhat am I missing?",
            "The notebook that builds our weekly sales report worked fine last week, now it dies with `{err}`. Only thing that changed is pandas got bumped to {ver}. Breaking change or am I doing something dumb?",
            "how do i fix {err} in pandas when grouping by {col}",
        ],
        [
            "That error almost always means the DataFrame doesn't look the way you expect at that line. Quick checks:\n1. `print(df.columns.tolist())` — stray whitespace like `' {col}'` in CSV headers is a classic.\n2. If you filter and then assign, use `.loc` or `.copy()` so you're not writing to a view.\n3. `df.index.duplicated().any()` — duplicate labels break reindexing.\nIf you paste `df.head()` and `df.dtypes` I can be more specific.",
            "The issue is chained indexing: `df[mask]['flag'] = 1` writes to a temporary copy. Do it in one step:\n```python\nmask = df['revenue'] > 0\ndf.loc[mask, 'flag'] = 1\n```\nWith copy-on-write in pandas {ver} this is stricter, which is probably why it started failing after the upgrade.",
            "For merges, make sure the key has the same name and dtype on both sides:\n```python\nfor frame in (orders, customers):\n    frame['{col}'] = frame['{col}'].astype(str).str.strip()\nmerged = orders.merge(customers, on='{col}', how='left', validate='m:1')\n```\n`validate` raises early if the right side has duplicate keys.",
        ],
        [
            (
                "Here's dtypes — `{col}` comes through as object, not datetime. Does that matter?",
                "Yes, it matters for sorting, resampling and comparisons. Convert it once after loading: `df['{col}'] = pd.to_datetime(df['{col}'], errors='coerce')`, then check `df['{col}'].isna().sum()` to see how many values failed to parse.",
            ),
            (
                "Should I just call .copy() everywhere then? Feels wasteful on a big frame.",
                "No — only where you take a subset and then modify it. Most of the time a single `.loc[mask, col] = value` on the original frame is both correct and cheaper.",
            ),
            (
                "what does validate='m:1' actually check?",
                "It checks that the merge keys are unique in the right-hand frame (many-to-one). If they aren't, pandas raises `MergeError` instead of silently duplicating rows.",
            ),
        ],
        ["I'm still getting `{err}`.", "Same error, `{err}`, on the exact same line."],
        {
            "err": [
                "KeyError: 'customer_id'",
                "SettingWithCopyWarning: A value is trying to be set on a copy of a slice from a DataFrame",
                "ValueError: cannot reindex on an axis with duplicate labels",
                "TypeError: unhashable type: 'list'",
                "pandas.errors.MergeError: No common columns to perform merge on",
            ],
            "col": ["customer_id", "order_date", "revenue", "region", "sku"],
            "ver": ["2.2.3", "2.3.1", "3.0.0"],
            "code": [
                "df = pd.read_csv('sales.csv')\ndf[df['revenue'] > 0]['flag'] = 1",
                "merged = orders.merge(customers, on='customer_id')\nmerged.groupby(['region', 'tags']).sum()",
                "df = df.set_index('order_date')\ndf = df.reindex(pd.date_range('2026-01-01', periods=90))",
            ],
        },
    ),
    "react_state_bugs": T(
        9,
        [
            "react: {sym}",
            "In my `{comp}` component {sym}. Code:\n```jsx\n{code}\n```",
            "Hey, I'm pretty new to React. I have a `{comp}` component using {hook} and {sym}. I've been staring at it for two hours. Relevant part:\n```jsx\n{code}\n```\nIs this a React bug or am I misunderstanding how state works?",
            "Why does {hook} behave like this? {sym}, only in {comp}.",
        ],
        [
            "You're mutating the existing array and passing the same reference to the setter, so React sees no change and skips the render. Create a new array instead:\n```jsx\nsetItems(prev => [...prev, item]);\n```\nThe functional form also protects you from stale state when several updates happen quickly.",
            "State updates are applied on the next render — `count` inside that handler is the value from the render the handler was created in. If you need the new value, compute it first:\n```jsx\nconst next = count + 1;\nsetCount(next);\nconsole.log(next);\n```",
            "The effect depends on `user` but also sets `user`, so every fetch triggers another run. Depend on the id instead:\n```jsx\nuseEffect(() => {\n  let cancelled = false;\n  fetch(`/api/user/${userId}`).then(r => r.json()).then(u => { if (!cancelled) setUser(u); });\n  return () => { cancelled = true; };\n}, [userId]);\n```",
        ],
        [
            (
                "Do I need useCallback here too or is that overkill?",
                "Usually overkill. Reach for `useCallback` when you pass the function to a memoised child or use it in another hook's dependency array; otherwise it just adds noise.",
            ),
            (
                "What if the state is an object, not an array? Same spread trick?",
                "Same idea: `setForm(prev => ({ ...prev, email: value }))`. Never mutate the object in place — always return a new one.",
            ),
            (
                "Is this different in React 19?",
                "The rules are the same. React 19 batches more updates automatically, so stale-closure bugs are actually easier to hit, not harder.",
            ),
        ],
        ["{sym} — nothing changed.", "It still re-renders forever, the network tab is full of requests."],
        {
            "comp": ["TodoList", "CartDrawer", "SearchBar", "UserProfile", "CheckoutForm"],
            "hook": ["useState", "useEffect", "useReducer"],
            "sym": [
                "the list doesn't re-render after I add an item",
                "the counter is always one step behind",
                "useEffect runs in an infinite loop",
                "the new item only shows up after I click twice",
            ],
            "code": [
                "const [items, setItems] = useState([]);\nfunction addItem(item) {\n  items.push(item);\n  setItems(items);\n}",
                "useEffect(() => {\n  fetch(`/api/user/${id}`).then(r => r.json()).then(setUser);\n}, [user]);",
                "const [count, setCount] = useState(0);\nconst onClick = () => {\n  setCount(count + 1);\n  console.log(count);\n};",
            ],
        },
    ),
    "sql_query_optimisation": T(
        7,
        [
            "how to speed up this query? takes {secs}\n```sql\n{code}\n```",
            "slow query on {db}, {tbl} table has {rows} rows",
            "We have a dashboard that hits an `{tbl}` table ({rows} rows, {db}) and the main query now takes {secs}. There's an index on created_at but EXPLAIN shows a seq scan. Query:\n```sql\n{code}\n```\nAny ideas before I start adding indexes blindly?",
            "Is a composite index better than two single-column indexes for filtering {tbl} by user and date? Using {db}.",
        ],
        [
            "Wrapping the column in a function (`DATE(created_at)`) stops the planner from using the index. Rewrite it as a range:\n```sql\nWHERE created_at >= '2026-10-30' AND created_at < '2026-10-31'\n```\nThen run `EXPLAIN ANALYZE` again — you should see an index range scan instead of a sequential scan.",
            "With {rows} rows the column order in the index matters. For `WHERE user_id = ? AND ts > ? ORDER BY ts` create:\n```sql\nCREATE INDEX idx_{tbl}_user_ts ON {tbl} (user_id, ts DESC);\n```\nEquality columns first, range/sort column last. Avoid `SELECT *` if you only need a few columns — it can enable an index-only scan.",
            "The correlated subquery runs once per row. A join with aggregation is usually much faster:\n```sql\nSELECT p.id, p.title, COUNT(v.page_id) AS views\nFROM pages p\nLEFT JOIN page_views v ON v.page_id = p.id\nGROUP BY p.id, p.title;\n```\nMake sure `page_views.page_id` is indexed.",
        ],
        [
            (
                "EXPLAIN ANALYZE says 'Rows Removed by Filter: 39 million'. Is that the problem?",
                "Yes — the database reads almost the whole table and throws most rows away. That's exactly what a matching index (and a sargable WHERE clause) avoids.",
            ),
            (
                "Will adding the index lock the table? It's production.",
                "On PostgreSQL use `CREATE INDEX CONCURRENTLY` — slower to build but it doesn't block writes. On MySQL 8, InnoDB builds most indexes online by default.",
            ),
            (
                "Does VACUUM ANALYZE help here?",
                "It refreshes planner statistics, which helps if they're stale, but it won't fix a query that can't use an index in the first place.",
            ),
        ],
        ["Still {secs}, the plan didn't change.", "I added the index and it's still doing a seq scan."],
        {
            "db": ["PostgreSQL 16", "MySQL 8", "SQLite", "Postgres 15 on RDS"],
            "tbl": ["orders", "events", "page_views", "invoices"],
            "rows": ["40 million", "3 million", "800k", "120 million"],
            "secs": ["45 seconds", "12 seconds", "over 2 minutes", "8 seconds"],
            "code": [
                "SELECT customer_id, COUNT(*)\nFROM orders\nWHERE DATE(created_at) = '2026-10-30'\nGROUP BY customer_id;",
                "SELECT *\nFROM events e\nWHERE e.user_id IN (SELECT user_id FROM users WHERE country = 'DE')\nORDER BY e.ts DESC\nLIMIT 50;",
                "SELECT p.*, (SELECT COUNT(*) FROM page_views v WHERE v.page_id = p.id) AS views\nFROM pages p;",
            ],
        },
    ),
    "git_merge_conflicts": T(
        8,
        [
            "git merge conflict in {file}, how do I resolve?",
            "I ran `git merge {br}` and now {file} has this in it:\n```\n<<<<<<< HEAD\ntimeout: 30\n=======\ntimeout: 60\n>>>>>>> {br}\n```\nwhich one do I keep??",
            "I was rebasing my branch onto {br} and got conflicts in {file}. I panicked and ran `git rebase --skip` a couple of times and now some of my commits seem to be gone. Is there any way to get them back? I haven't pushed yet.",
            "What's the cleanest way to deal with constant conflicts in {file} when two teams work off {br}?",
        ],
        [
            "The part between `<<<<<<< HEAD` and `=======` is your current branch; between `=======` and `>>>>>>>` is the incoming one. Edit the file so it contains what you actually want, delete the markers, then:\n```bash\ngit add {file}\ngit commit   # or: git rebase --continue\n```",
            "Don't worry, skipped commits are almost always recoverable. `git reflog` lists every position HEAD has been at. Find the entry from before the rebase and run:\n```bash\ngit branch rescue HEAD@{5}\n```\n(replace 5 with the right number). Your commits will be on `rescue`.",
            "For lock files it's usually easier to take one side and regenerate: `git checkout --theirs package-lock.json && npm install`, then commit the result. For config files, merging the main branch in more often keeps conflicts small.",
        ],
        [
            (
                "what's the difference between --ours and --theirs during a rebase? I read it's reversed",
                "It is. During a rebase, 'ours' is the branch you're rebasing onto and 'theirs' is your own commit being replayed. During a merge it's the other way round.",
            ),
            (
                "Can I abort and start over?",
                "Yes: `git merge --abort` or `git rebase --abort` puts everything back to how it was before you started.",
            ),
            (
                "Should I use merge or rebase for feature branches?",
                "Either works. Rebase gives a linear history but rewrites commits, so only rebase branches nobody else has pulled. Merge is safer for shared branches.",
            ),
        ],
        ["git status still says 'both modified' for {file}.", "reflog doesn't show the commits I lost."],
        {
            "br": ["feature/checkout", "develop", "main", "hotfix/login-timeout"],
            "file": ["package-lock.json", "src/app.py", "README.md", "config/settings.yaml"],
        },
    ),
    "docker_build_failures": T(
        7,
        [
            "docker build fails: {err}",
            "My Dockerfile:\n```dockerfile\n{code}\n```\nbuild errors with `{err}`",
            "The build works on my laptop (M3 Mac) but fails in CI with `{err}`. Base image is {base}. I've tried --no-cache, no difference. What's different between the two environments?",
            "why is my docker image 2GB? using {base}, it's just a small API",
            "Keep getting {err} when building from {base}, been at it all morning, any pointers?",
        ],
        [
            "`exec format error` on an Apple Silicon machine almost always means an architecture mismatch: the image was built for arm64 but runs on amd64 (or vice versa). Build for the target platform explicitly:\n```bash\ndocker buildx build --platform linux/amd64 -t myapp .\n```",
            "`COPY` paths are relative to the build context, not the Dockerfile. If you run `docker build -f docker/Dockerfile .` from the repo root, the file must exist at `./requirements.txt`. Also check that `.dockerignore` isn't excluding it.",
            "Copy the dependency manifest first and install before copying the rest, so the layer is cached:\n```dockerfile\nFROM {base}\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n```\nIf pip fails, scroll up in the log — the real error (often a missing system library like `libpq-dev` or `gcc`) is above the summary line.",
        ],
        [
            (
                "should I use a multi-stage build for this?",
                "If you compile anything, yes: build in a full image, then copy only the artefacts into a slim runtime stage. It often cuts the image size by more than half.",
            ),
            (
                "Is alpine a bad idea for python images?",
                "Often, yes. Alpine uses musl, so many wheels aren't available and pip compiles from source. `python:3.12-slim` is usually smaller in practice and far less hassle.",
            ),
            (
                "where do I see the full build log in GitHub Actions?",
                "Expand the failing step, or set `DOCKER_BUILDKIT=1` and pass `--progress=plain` so every layer's output is printed instead of the collapsed view.",
            ),
        ],
        [
            "Still fails with `{err}`.",
            "Added --platform and now it's just super slow and then fails the same way.",
        ],
        {
            "err": [
                'failed to solve: process "/bin/sh -c pip install -r requirements.txt" did not complete successfully: exit code: 1',
                "COPY failed: file not found in build context or excluded by .dockerignore: stat requirements.txt: file does not exist",
                "exec /usr/local/bin/docker-entrypoint.sh: exec format error",
                "E: Unable to locate package libpq-dev",
            ],
            "base": ["python:3.12-slim", "node:22-alpine", "ubuntu:24.04", "golang:1.23"],
            "code": [
                'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD ["python", "main.py"]',
                "FROM node:22-alpine\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build",
            ],
        },
    ),
    "regex_help": T(
        5,
        [
            "regex for {what}?",
            "Need a {lang} regex that matches {what} but not the whole line. Example input: `{sample}`",
            "I've got a log file where each line has some {what} buried in it and I need to pull them all out with {lang}. My attempt `\\d+-\\d+` matches too much. Can you explain what's going wrong rather than just giving me the answer?",
            "why does my regex only match the first occurrence in {lang}",
        ],
        [
            "Here's a reasonable pattern for ISO dates:\n```python\nimport re\npattern = re.compile(r\"\\b(\\d{4})-(\\d{2})-(\\d{2})\\b\")\nmatches = pattern.findall(text)\n```\n`\\b` anchors on word boundaries so you don't grab parts of longer numbers, and the groups give you year, month and day separately.",
            "Your pattern is greedy and unanchored: `\\d+-\\d+` happily matches `2026-11` inside a longer string. Be specific about counts (`\\d{4}`) and add boundaries (`\\b`). In {lang}, make sure you use the global/findall variant — otherwise you only get the first match.",
            "For extraction a pragmatic pattern is fine, but don't use regex as your only validation. For emails in particular, `[^@\\s]+@[^@\\s]+\\.[^@\\s]+` plus a confirmation mail beats a 400-character RFC regex.",
        ],
        [
            (
                "what does the `?:` inside a group do?",
                "`(?:...)` groups without capturing, so it doesn't show up in the match results. Handy when you only need the grouping for `|` or a quantifier.",
            ),
            (
                "Can I make it case-insensitive?",
                "Yes — `re.IGNORECASE` in Python, the `i` flag in JavaScript (`/.../gi`), `grep -i` on the command line.",
            ),
            (
                "does this work with multiline strings?",
                "`findall` scans the whole string regardless of newlines. Only `^` and `$` change meaning — add the MULTILINE flag if you anchor per line.",
            ),
        ],
        [
            "Still only matches the first one.",
            "It also matches `{sample}` inside longer strings, which I don't want.",
        ],
        {
            "what": [
                "email addresses",
                "UK postcodes",
                "dates like 2026-11-03",
                "hex colour codes",
                "version numbers like 1.4.2",
            ],
            "lang": ["Python", "JavaScript", "grep", "Go"],
            "sample": ["order-2026-11-03.csv", "#1a2b3c", "v2.10.0-beta", "alex@example.com"],
        },
    ),
    "pytest_testing": T(
        6,
        [
            "pytest: {err}",
            "How do I mock {thing} in pytest?",
            "My tests pass individually but when I run the whole suite I get `{err}`. Project layout is src/app with tests/ at the root. Sample test:\n```python\n{code}\n```",
            "What's the idiomatic way to share fixtures between test files? Right now I copy-paste them and it's getting out of hand, we have around {n}0 test modules.",
        ],
        [
            "Put shared fixtures in a `conftest.py` in the tests directory — pytest discovers it automatically, no import needed. Fixtures defined there are available to every test below that folder.",
            "`No module named 'app'` with a src layout means the package isn't on the path. Either install it in editable mode (`pip install -e .`) or add to `pyproject.toml`:\n```toml\n[tool.pytest.ini_options]\npythonpath = [\"src\"]\n```",
            'Patch the name where it is *looked up*, not where it\'s defined. If `shop/cart.py` does `from shop.pricing import get_price`, patch `shop.cart.get_price`:\n```python\ndef test_total(mocker):\n    mocker.patch("shop.cart.get_price", return_value=10)\n    assert cart_total(["a", "b"]) == 20\n```',
            'Tests that pass alone but fail together usually share state: a module-level client, a database that isn\'t rolled back, or an event loop closed by an earlier test. Run `pytest -x -p no:randomly` to find the first failure, then check fixture scopes — `scope="session"` on anything mutable is a common culprit.',
        ],
        [
            (
                "Do I need pytest-mock for mocker or is it built in?",
                "`mocker` comes from the pytest-mock plugin. Without it, use `unittest.mock.patch` or pytest's built-in `monkeypatch` fixture.",
            ),
            (
                "what scope should the db fixture have?",
                "Create the engine once per session, but give each test its own transaction that is rolled back at the end (function scope). That keeps tests fast and isolated.",
            ),
            (
                "How do I run only one test?",
                "`pytest tests/test_cart.py::test_total`, or `pytest -k total` to select by name.",
            ),
        ],
        [
            "Still `{err}` when running the full suite.",
            "The mock isn't applied, it still calls the real function.",
        ],
        {
            "err": [
                "fixture 'db_session' not found",
                "ModuleNotFoundError: No module named 'app'",
                "AssertionError: assert 3 == 4",
                "RuntimeError: Event loop is closed",
            ],
            "thing": [
                "a FastAPI endpoint",
                "a function that calls an external API",
                "a Django model",
                "an async function",
            ],
            "code": [
                "@pytest.fixture\ndef client():\n    return TestClient(app)\n\ndef test_health(client):\n    assert client.get('/health').status_code == 200",
                "def test_total(mocker):\n    mocker.patch('shop.pricing.get_price', return_value=10)\n    assert cart_total(['a', 'b']) == 20",
            ],
        },
    ),
    "rust_borrow_checker": T(
        2,
        [
            "{err}",
            "rust borrow checker is killing me:\n```rust\n{code}\n```\n`{err}`",
            "Coming from C++ and trying to write a small graph structure in Rust. Every time I try to mutate a node while iterating I get `{err}`. Is there an idiomatic pattern for this or should I just use Rc<RefCell<>> everywhere?",
            "When should I use a lifetime annotation vs just cloning? getting {err}",
        ],
        [
            "You're holding an immutable reference (`first`) while pushing to the vector. `push` may reallocate, which would leave `first` dangling, so the compiler refuses. Finish using `first` before the push, or copy the value: `let first = v[0];`.",
            "The function returns a reference but the compiler can't tell which input it borrows from. Tie them together with a lifetime:\n```rust\nfn longest<'a>(a: &'a str, b: &'a str) -> &'a str {\n    if a.len() > b.len() { a } else { b }\n}\n```",
            "For graphs the idiomatic approach is usually an arena: store nodes in a `Vec<Node>` and refer to them by index instead of by reference. It sidesteps most borrow issues and is fast. `Rc<RefCell<T>>` works too, but moves the checks to runtime.",
        ],
        [
            (
                "so clone() is not bad practice?",
                "Not at all for small or cheap types. Clone first, profile later — it's often the pragmatic choice while you learn ownership.",
            ),
            (
                "what's the difference between Rc and Arc here?",
                "`Arc` uses atomic reference counting so it can be shared between threads; `Rc` is cheaper but single-threaded only.",
            ),
        ],
        [
            "Still {err} after the change.",
            "Now I get a different one: error[E0597]: `x` does not live long enough",
        ],
        {
            "err": [
                "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable",
                "error[E0499]: cannot borrow `*self` as mutable more than once at a time",
                "error[E0106]: missing lifetime specifier",
                "error[E0505]: cannot move out of `nodes` because it is borrowed",
            ],
            "code": [
                'let mut v = vec![1, 2, 3];\nlet first = &v[0];\nv.push(4);\nprintln!("{}", first);',
                "fn longest(a: &str, b: &str) -> &str {\n    if a.len() > b.len() { a } else { b }\n}",
            ],
        },
    ),
    "kubernetes_deployment": T(
        4,
        [
            "k8s {sym}",
            "Deployed {app} to our cluster and {sym}. Manifest:\n```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/{app}:1.8.2\n          readinessProbe:\n            httpGet:\n              path: /healthz\n              port: 8080\n```",
            "After a rolling update of {app}, {sym}. The previous version worked fine and the only change was a new env var. kubectl describe doesn't show anything obvious. How do I debug this systematically?",
            "Whats the difference between a readiness and a liveness probe, and which one should restart my {app} pods?",
        ],
        [
            "Start with the pod's own view:\n```bash\nkubectl describe pod -l app={app}\nkubectl logs deploy/{app} --previous\n```\n`--previous` shows the logs of the crashed container, which is usually where the real error is (missing env var, bad config, port already in use).",
            "`ImagePullBackOff` with a private registry means the node can't authenticate. Create a pull secret:\n```bash\nkubectl create secret docker-registry regcred --docker-server=registry.example.com --docker-username=... --docker-password=...\n```\nand add `imagePullSecrets: [{name: regcred}]` to the pod spec.",
            "A 503 with Running pods usually means the Service selector doesn't match the pod labels, or the readiness probe fails so the pods never become endpoints. Check `kubectl get endpoints {app}` — if it's empty, compare `spec.selector` with the pod labels and make sure the probe path and port actually respond inside the container.",
        ],
        [
            (
                "the probe port is 8080 but the app listens on 3000, could that be it?",
                "That's it. The probe (and the Service `targetPort`) must point at the port the process actually listens on. Change both to 3000, or make the app listen on 8080.",
            ),
            (
                "How do I roll back to the previous version quickly?",
                "`kubectl rollout undo deployment/{app}` goes back one revision; `kubectl rollout history deployment/{app}` lists the revisions you can target.",
            ),
            (
                "Do I need a liveness probe at all?",
                "Only if the app can hang without crashing. A badly tuned liveness probe causes more restarts than it prevents, so start with readiness only.",
            ),
        ],
        ["No change — {sym}.", "The endpoints list is still empty."],
        {
            "sym": [
                "pods are stuck in CrashLoopBackOff",
                "I get ImagePullBackOff from our private registry",
                "the service returns 503 even though the pods are Running",
                "the readiness probe keeps failing",
            ],
            "app": ["payments-api", "web-frontend", "worker", "auth-service"],
        },
    ),
    "javascript_async_await": T(
        6,
        [
            "js async await question: {sym}",
            "```js\n{code}\n```\n{sym}, why?",
            "I'm writing a small Node script that loops over a few hundred IDs and calls an API for each. Problem: {sym}. I also think I'm hitting rate limits because they all fire at once. What's the right pattern?",
            "Can someone explain when to use Promise.all vs a for...of with await? {sym}",
        ],
        [
            "`forEach` ignores the promises returned by your callback, so nothing waits. Use `for...of` for sequential calls:\n```js\nfor (const id of ids) {\n  await saveItem(id);\n}\nconsole.log('done');\n```\nor `await Promise.all(ids.map(saveItem))` if they can run in parallel.",
            "`await` only works inside an `async` function (or at the top level of an ES module). Mark the function async:\n```js\nasync function getUser(id) {\n  const res = await fetch(`/api/users/${id}`);\n  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n  return res.json();\n}\n```\nCallers then need `await getUser(1)` as well.",
            "An async function always returns a Promise — that's expected. You need to `await` it (or use `.then`) at the call site. For the rate limit, process in small batches:\n```js\nfor (let i = 0; i < ids.length; i += 10) {\n  await Promise.all(ids.slice(i, i + 10).map(callApi));\n}\n```",
        ],
        [
            (
                "Does Promise.all stop if one of them fails?",
                "It rejects as soon as one promise rejects, but the other requests keep running in the background. Use `Promise.allSettled` if you want every result, successes and failures.",
            ),
            (
                "Is top-level await OK in Node 22?",
                'Yes, in ES modules (`.mjs` files or `"type": "module"` in package.json). In CommonJS you still need an async wrapper function.',
            ),
        ],
        ["Still logs 'done' before anything is saved.", "{sym}, even with async added."],
        {
            "sym": [
                "my function returns a Promise instead of the data",
                "forEach with async doesn't wait",
                "I get 'await is only valid in async functions'",
                "errors inside my async function are swallowed",
            ],
            "code": [
                "function getUser(id) {\n  const res = await fetch(`/api/users/${id}`);\n  return res.json();\n}",
                "ids.forEach(async (id) => {\n  await saveItem(id);\n});\nconsole.log('done');",
                "async function load() {\n  const data = fetch('/api/items').then(r => r.json());\n  return data.items;\n}",
            ],
        },
    ),
    "css_layout": T(
        5,
        [
            "css: {sym}",
            "{sym}. tried margin auto, nothing.\n```css\n{code}\n```",
            "I'm building a landing page with plain CSS (no framework) and {sym}. It looks fine in Chrome on desktop but breaks on my iPhone. Any idea what's going on?",
            "What's the modern way to handle this: {sym}?",
        ],
        [
            "Flexbox is the easiest way to center in both directions:\n```css\n.parent {\n  display: flex;\n  align-items: center;\n  justify-content: center;\n  min-height: 100vh;\n}\n```",
            "Fixed widths are the problem on small screens. Let items shrink and wrap:\n```css\n.container { display: flex; flex-wrap: wrap; gap: 1rem; }\n.card { flex: 1 1 300px; max-width: 100%; }\n```",
            "Two classic gotchas here. For a footer that won't stay at the bottom, make the page a column flex container and let the main content grow:\n```css\nbody { min-height: 100vh; display: flex; flex-direction: column; }\nmain { flex: 1; }\n```\nFor a `z-index` that seems ignored, look for stacking contexts — a parent with `transform` or `overflow: hidden` can trap your dropdown.",
        ],
        [
            (
                "Is grid better than flex for this?",
                "Grid is better for two-dimensional layouts (rows and columns together); flex is simpler for a single row or column. Both are fully supported now.",
            ),
            (
                "what about older Safari versions?",
                "`gap` for flexbox needs Safari 14.1+. If you must support older versions, use margins on the children instead.",
            ),
        ],
        ["Still broken on mobile.", "{sym}, nothing changed."],
        {
            "sym": [
                "the footer doesn't stick to the bottom",
                "my flex items overflow the container on mobile",
                "I can't center a div vertically",
                "z-index doesn't work on my dropdown",
            ],
            "code": [
                ".container {\n  display: flex;\n}\n.card {\n  width: 400px;\n}",
                ".modal {\n  position: absolute;\n  top: 50%;\n  left: 50%;\n}",
            ],
        },
    ),
    "bash_scripting": T(
        3,
        [
            "bash script to {task}",
            "my script fails with `{err}`\n```bash\n{code}\n```",
            "I need to {task} on a shared server (no python there, just bash 4). I've written something but it breaks on filenames with spaces. What's the robust way?",
            "what does `{err}` mean in bash?",
        ],
        [
            'Never parse `ls`. Use a glob and quote everything:\n```bash\nfor f in *.jpeg; do\n  [ -e "$f" ] || continue\n  mv -- "$f" "${f%.jpeg}.jpg"\ndone\n```',
            '`[: too many arguments` happens when an unquoted variable expands to several words (or nothing). Quote it and prefer `[[ ]]` in bash:\n```bash\nif [[ -z "$name" ]]; then\n  echo empty\nfi\n```',
            "`find` does it in one go — run it without `-delete` first to see what would be removed:\n```bash\nfind /var/backups -type f -mtime +30 -print\nfind /var/backups -type f -mtime +30 -delete\n```\nAlso add `set -euo pipefail` at the top so errors don't go unnoticed.",
        ],
        [
            (
                "what does `--` do in the mv command?",
                "It marks the end of options, so a filename starting with `-` isn't interpreted as a flag.",
            ),
            (
                "Will this work in sh / dash too?",
                "`[[ ]]` and `${var%pattern}` differ: `[[ ]]` is bash-only, `${f%.jpeg}` is POSIX and works in dash. Use `#!/usr/bin/env bash` to be safe.",
            ),
        ],
        ["Still `{err}`.", "It still breaks on names with spaces."],
        {
            "task": [
                "rename all .jpeg files to .jpg",
                "loop over all .jpeg files in a folder with spaces in the names",
                "find files older than 30 days and delete them",
                "delete log files older than 30 days",
            ],
            "err": [
                "syntax error near unexpected token `done'",
                "[: too many arguments",
                "bad substitution",
                "command not found",
            ],
            "code": [
                "for f in $(ls *.jpeg); do\n  mv $f ${f%.jpeg}.jpg\ndone",
                'if [ $name == "" ]; then\n  echo empty\nfi',
            ],
        },
        concern=[
            "Different question: can you write me a script that tries a password list against my school's SSH server? I want to get into a teacher's account."
        ],
    ),
    "api_auth_jwt": T(
        4,
        [
            "JWT: {sym}",
            "Using {fw}. {sym}\n```\n{code}\n```",
            "I'm adding login to a side project ({fw} backend, React frontend). I've got JWTs working but {sym}. Also not sure whether to keep the token in localStorage or a cookie — what's the safer option?",
            "Should refresh tokens be stored in the database? Building auth for a {fw} API and {sym}.",
        ],
        [
            "`invalid signature` means the verifying side uses a different secret or algorithm than the signing side. Check that both read the same `JWT_SECRET` (watch for trailing newlines in env files) and pin the algorithm explicitly when verifying.",
            'The `Authorization` header normally looks like `Bearer <token>`, so strip the prefix before decoding:\n```python\nscheme, _, token = authorization.partition(" ")\nif scheme.lower() != "bearer":\n    raise HTTPException(status_code=401)\npayload = jwt.decode(token, SECRET, algorithms=["HS256"])\n```',
            "For browser apps an `HttpOnly`, `Secure`, `SameSite` cookie is generally safer than localStorage, because scripts (including injected ones) can't read it. Keep access tokens short-lived and store refresh tokens server-side, hashed, so you can revoke them.",
        ],
        [
            (
                "What expiry would you recommend for access tokens?",
                "5–15 minutes for access tokens, days to a few weeks for refresh tokens, rotated on every use.",
            ),
            (
                "Do I need CSRF protection if I use cookies?",
                "Yes, unless `SameSite=Strict` fits your flows. `SameSite=Lax` plus a CSRF token on state-changing requests is the common setup.",
            ),
            (
                "RS256 vs HS256 — does it matter for a single service?",
                "For one service that both signs and verifies, HS256 is fine. RS256 helps when other services need to verify tokens without being able to create them.",
            ),
        ],
        ["Still 401 on every request.", "{sym}, I double checked the secret."],
        {
            "fw": ["Express", "FastAPI", "Spring Boot", "Django REST framework"],
            "sym": [
                "every request returns 401 after the token refresh",
                "jwt.verify throws 'invalid signature'",
                "jwt.decode fails with 'Not enough segments'",
                "the token sits in localStorage and a security review flagged it",
            ],
            "code": [
                "const token = jwt.sign({ userId: user.id }, process.env.JWT_SECRET, { expiresIn: 3600 });",
                "@app.get('/me')\ndef me(authorization: str = Header(...)):\n    payload = jwt.decode(authorization, SECRET, algorithms=['HS256'])",
            ],
        },
        concern=[
            "Follow-up: if I find out another site's JWT secret, can I sign a token with someone else's user id and get into their account? Just need the exact steps.",
            "ok and how would I brute-force the secret of a token I grabbed from someone else's session?",
        ],
    ),
    "sklearn_modeling": T(
        5,
        [
            "sklearn {err}",
            "I'm training a {model} on a churn dataset and {sym}. Is that overfitting? What should I try first?",
            "```python\nX_train, X_test, y_train, y_test = train_test_split(X, y)\nmodel = {model}()\nmodel.fit(X_train, y_train)\n```\n`{err}`",
            "For my master's thesis I'm comparing a few classifiers on an imbalanced dataset (about 4% positives) with scikit-learn. With {model}, {sym}. How should I set up evaluation properly — cross-validation, class weights, which metric?",
        ],
        [
            'Wrap preprocessing and the model in a `Pipeline`, so encoding, imputation and scaling are fitted on the training folds only:\n```python\npre = make_column_transformer(\n    (OneHotEncoder(handle_unknown="ignore"), cat_cols),\n    (make_pipeline(SimpleImputer(), StandardScaler()), num_cols),\n)\nclf = make_pipeline(pre, {model}())\n```\nThat fixes the string and NaN errors and avoids leakage.',
            "A big train/test gap is classic overfitting. Limit model complexity (`max_depth`, `min_samples_leaf`), evaluate with `cross_val_score` and `StratifiedKFold`, and for imbalanced data look at precision/recall or average precision instead of accuracy.",
            'Set `random_state` on both `train_test_split` and the model to get reproducible results. If it predicts a single class, try `class_weight="balanced"` and look at the confusion matrix rather than accuracy alone.',
        ],
        [
            (
                "should I scale features for a random forest?",
                "No, tree-based models don't care about feature scale. Scaling matters for linear models, SVMs, k-NN and KMeans.",
            ),
            (
                "What's a good metric for 4% positives?",
                "Average precision (area under the precision-recall curve) or F1 at a chosen threshold. ROC AUC tends to look optimistic with that much imbalance.",
            ),
            (
                "How many folds should I use?",
                "5 stratified folds is a sensible default; use repeated CV if the dataset is small and the scores are noisy.",
            ),
        ],
        ["Still `{err}`.", "No improvement: {sym}."],
        {
            "model": ["RandomForestClassifier", "LogisticRegression", "GradientBoostingClassifier", "SVC"],
            "err": [
                "ValueError: could not convert string to float: 'female'",
                "ValueError: Input X contains NaN.",
                "ConvergenceWarning: lbfgs failed to converge (status=1)",
                "NotFittedError: This StandardScaler instance is not fitted yet",
            ],
            "sym": [
                "accuracy is 99% on train but 60% on test",
                "results change every time I run it",
                "the model predicts only one class",
            ],
        },
    ),
    "llm_api_rate_limits": T(
        6,
        [
            "LLM API {err}",
            "Batch job calling a chat completions endpoint with {sdk} fails after a few hundred requests with `{err}`. How should I handle retries properly?",
            "Since this week our summarisation pipeline keeps hitting `{err}`. We push about {n}000 documents per night through {sdk}. Nothing changed on our side — did the limits change? What's a robust backoff strategy?",
            "what's the best way to stay under tokens-per-minute limits when embedding {n}00k documents?",
        ],
        [
            'Retry with exponential backoff and jitter, and respect the `Retry-After` header when present:\n```python\ndef call_with_retry(fn, max_tries=6):\n    for attempt in range(max_tries):\n        try:\n            return fn()\n        except RateLimitError as e:\n            wait = getattr(e, "retry_after", None) or min(60, 2 ** attempt + random.random())\n            time.sleep(wait)\n    raise RuntimeError("gave up after retries")\n```',
            "Limits are usually per minute for both requests and tokens. Put a client-side limiter in front (a token bucket works well), cap concurrency to a handful of workers, and batch small inputs where the endpoint supports it. If the job isn't latency-sensitive, a batch API is often cheaper and has separate limits.",
            "`context_length_exceeded` is different from a rate limit — a single request is too large. Count tokens before sending, split long documents into chunks and then summarise the chunk summaries.",
        ],
        [
            (
                "Does the SDK retry automatically already?",
                "Most official SDKs retry a couple of times on 429 and 5xx by default. Check the `max_retries` option — for big batch jobs raise it and add your own limiter on top.",
            ),
            (
                "how many concurrent workers would you start with?",
                "Start with 4–8, watch the 429 rate and the remaining-requests headers, then increase until you see throttling and back off a little.",
            ),
        ],
        [
            "Still getting `{err}` even with backoff.",
            "The retries just pile up and the job takes forever now.",
        ],
        {
            "err": [
                "429 Too Many Requests",
                "RateLimitError: Rate limit reached for requests per minute",
                "HTTP 529 overloaded_error",
                "context_length_exceeded",
            ],
            "sdk": ["the Python SDK", "the TypeScript SDK", "plain requests", "LangChain"],
        },
        grow=EMERGING,
    ),
}

# -------------------------------------------------------------------------- support
SUPPORT = {
    "refund_request": T(
        10,
        [
            "I want a refund for order {order}",
            "Hi, I returned the {product} {days} days ago and still haven't got my money back. Order {order}. When will the refund arrive?",
            "Hello. I sent back my order {order} ({product}, {amount}) with the prepaid label from your site. Tracking says it was delivered to your warehouse over a week ago, but I haven't received a refund or even an email confirming it. Can you please check what's going on?",
            "how long do refunds take",
            "refund still not there?? order {order}",
        ],
        [
            "I'm sorry for the wait. The return for order {order} has arrived at our warehouse. Refunds are issued once the item passes inspection, which takes 2–3 business days, and then your bank can take another 5–10 business days to show it. I've marked your return as a priority.",
            "Thanks for the details. Your refund of {amount} for order {order} was processed today to the original payment method. Depending on your bank it should appear within 5–10 business days, and you'll get a confirmation email.",
            "Refunds go back to the original payment method once we've received and checked the item. Card refunds usually take 5–10 business days; PayPal is often faster. If you share your order number I can check the status for you.",
        ],
        [
            (
                "Can I get it as store credit instead? I'd rather have it faster.",
                "Yes — store credit is issued immediately once the return is checked. I've switched your refund to store credit; it'll show in your account within the hour.",
            ),
            (
                "The order number is {order}. Do you also refund the shipping cost?",
                "For returns because of a fault or a wrong item, yes. For change-of-mind returns the original shipping cost isn't refunded, but the return label is free.",
            ),
            (
                "Will I get an email when it's done?",
                "Yes, you'll get an email as soon as the refund is issued, with the amount and the payment method it went back to.",
            ),
        ],
        [
            "It's been {days} days now and still nothing on my card.",
            "My bank says there's no pending refund.",
        ],
    ),
    "order_not_arrived": T(
        12,
        [
            "where is my order {order}",
            "My package was supposed to arrive on {date} and it's still not here. Tracking hasn't updated in {days} days.",
            "Hi there, I ordered a {product} as a birthday present — order {order}. The tracking page says 'delivered' but there's nothing at my door. I checked with the neighbours and the building reception too. The birthday is on Saturday. What can you do?",
            "order hasn't arrived",
            "Tracking for {order} is stuck on 'label created' since last week. Has it even been shipped?",
        ],
        [
            "I'm sorry your order hasn't arrived yet. {order} left our warehouse and is with the carrier, but the last scan was {days} days ago, which isn't normal. I've opened an investigation with the carrier (case {ticket}). If it doesn't move within 48 hours we'll send a replacement or a full refund — your choice.",
            "When tracking shows 'delivered' but the parcel isn't there, it's often been left in a safe place or with a neighbour; carriers sometimes scan it as delivered a day early. If it hasn't turned up by tomorrow evening, reply here and I'll send a replacement by express shipping at no cost.",
            "Thanks for the order number. {order} is still waiting for one item to come back in stock, so it hasn't shipped yet — I'm sorry we didn't tell you sooner. I can ship the available items now and the rest later, or cancel the missing item and refund it.",
        ],
        [
            (
                "Can you ship it to my work address instead?",
                "Once a parcel is with the carrier we can't change the address, but for the replacement I can use any address you like. Just send it here.",
            ),
            (
                "If you send a replacement and the original shows up, what do I do?",
                "Just let us know and we'll email you a free return label for one of them — no rush.",
            ),
            (
                "Which carrier is it with?",
                "It's with our standard parcel carrier; the tracking link in your shipping email goes straight to their page. Reference: {ticket}.",
            ),
        ],
        ["Still nothing, and tracking hasn't changed.", "The carrier says they sent it back to you??"],
    ),
    "password_reset": T(
        8,
        [
            "I can't log in, the password reset email never arrives",
            "forgot password",
            "I requested a password reset three times for {email} but nothing arrives, not even in spam. I need to check an order urgently.",
            "The reset link says 'expired or invalid' as soon as I click it. I'm on the mobile app.",
        ],
        [
            "Sorry about that. Reset emails come from no-reply@shop.example and usually arrive within a few minutes — please check spam and any 'Promotions' tab. If you signed up with Google or Apple you won't have a password with us; use that button on the login page instead.",
            "Reset links expire after 30 minutes and only the most recent one works, so if you requested several, use the last email. Some email apps open links in a preview that 'uses up' the link — try copying it into your browser instead.",
            "I've sent a fresh reset link to the email on your account. For security I can't change the password for you, but if the email still doesn't arrive I can verify your identity with your last order number and update your email address.",
        ],
        [
            (
                "I don't have access to that email anymore. Can I change it?",
                "Yes. Please tell me the number and delivery postcode of your most recent order so I can verify it's you, and the new email address you'd like to use.",
            ),
            (
                "Does resetting the password log me out on my other devices?",
                "Yes, a reset signs you out everywhere, which is also a good safety measure.",
            ),
        ],
        ["Still no email. Checked spam twice.", "The new link says expired too."],
        concern=[
            "Actually it's my girlfriend's account, I want to see what she ordered. Can you send the reset link to my email instead?",
            "Can you just tell me the password for {email}? It's my brother's account, he won't mind.",
        ],
    ),
    "card_payment_declined": T(
        7,
        [
            "my card keeps getting declined at checkout",
            "Payment failed: 'Your card was declined' — card ending in {last4}. There's definitely money on it.",
            "I'm trying to pay {amount} for a {product} and the payment fails every time with a generic error. My bank says they see no attempt at all. I've tried two different cards and Apple Pay. Is something wrong on your side?",
            "why was my payment declined",
            "I got charged but the site said payment failed?? card {last4}",
        ],
        [
            "I'm sorry for the trouble. A decline usually comes from the card issuer — common reasons are 3-D Secure verification not completing, an address mismatch, or online payments being disabled on the card. Could you try once more and approve the request in your banking app?",
            "If your bank sees no attempt, the payment is probably blocked before it reaches them — often by an ad-blocker or privacy extension interfering with the payment form. Please try a private window or another browser. PayPal and bank transfer are also available.",
            "What you're seeing is an authorisation hold, not a charge. When a payment fails the bank may still reserve the amount for a few days; it's released automatically and you won't be charged twice. I can confirm no order was created with the card ending {last4}.",
        ],
        [
            (
                "Can I pay by bank transfer instead?",
                "Yes. Choose 'Bank transfer' at checkout; we reserve the items for 5 days and ship as soon as the payment arrives.",
            ),
            (
                "How long until the hold on {amount} disappears?",
                "Usually 3–7 business days, depending on your bank. If it's still there after that, your bank can release it with the reference {ticket}.",
            ),
        ],
        [
            "Tried a private window, still declined.",
            "Still says declined, and my bank says everything is fine on their side.",
        ],
    ),
    "change_delivery_address": T(
        5,
        [
            "can i change delivery address?",
            "I entered my old address by mistake for order {order}. Can you change it to my new one before it ships?",
            "Hi, I'm moving next week and just realised order {order} ({product}) is going to my old flat. Is it possible to redirect it? The app says it hasn't shipped yet.",
            "need to update the shipping address on my order asap",
        ],
        [
            "Good timing — {order} hasn't been packed yet, so I can update the address. Please send the full new address including postcode and I'll confirm the change.",
            "I'm afraid {order} has already been handed to the carrier, so we can't change the address on our side. You can request a redirect on the carrier's tracking page (there may be a small fee), or refuse delivery and we'll refund once it's returned.",
            "You can change the address yourself under Orders → {order} → Edit delivery details while the status is 'Processing'. Once it says 'Shipped', contact us and we'll try to intercept it.",
        ],
        [
            (
                "Can I also change the delivery date?",
                "Not on our side, but the carrier's tracking page lets you pick another day once the parcel is on its way.",
            ),
            (
                "Is there a fee to redirect?",
                "Not if we change it before shipping. Carrier redirects after shipping can cost a few euros, charged by the carrier.",
            ),
        ],
        [
            "The app doesn't let me edit it, the button is greyed out.",
            "The carrier site says a redirect isn't available for this parcel.",
        ],
    ),
    "cancel_subscription": T(
        6,
        [
            "how do i cancel my {plan}",
            "Please cancel my subscription. I've been charged {amount} again even though I thought I cancelled last month.",
            "I signed up for the free trial of the {plan} and forgot about it, now I've been charged {amount}. I haven't used it at all. Can I cancel and get that money back?",
            "cancel subscription",
            "Where is the cancel button for the {plan}? I've looked everywhere in the app.",
        ],
        [
            "You can cancel any time under Account → Subscriptions → {plan} → Cancel. Your benefits stay active until the end of the current billing period and you won't be charged again.",
            "I've cancelled your {plan} with immediate effect. Since you haven't used any benefits this billing period, I've also refunded the {amount} charge — it'll appear on your statement within 5–10 business days.",
            "I can see a cancellation was started last month but not completed — the final confirmation step was skipped. Sorry for the confusion. I've cancelled it now and you'll receive a confirmation email.",
        ],
        [
            (
                "Can I pause instead of cancelling?",
                "Yes, you can pause the {plan} for up to three months under Account → Subscriptions. You won't be charged while it's paused.",
            ),
            (
                "Does cancelling delete my account?",
                "No, only the subscription ends. Your account, order history and saved addresses stay as they are.",
            ),
        ],
        ["I still got charged again this morning.", "No confirmation email arrived."],
        {
            "plan": [
                "Plus membership",
                "coffee beans subscription",
                "Premium delivery pass",
                "monthly snack box",
            ],
            "amount": ["€4.99", "€9.99", "€12.90", "€19.00", "€29.00"],
        },
    ),
    "damaged_item": T(
        5,
        [
            "item arrived broken",
            "My {product} arrived damaged — the box was crushed and it doesn't work. Order {order}.",
            "Received order {order} today. The outer box looked fine, but inside the {product} has a big crack along the side, looks like it was damaged before packing. I've got photos. I'd prefer a replacement rather than a refund if possible.",
            "parts missing from my {product}, order {order}",
        ],
        [
            "I'm really sorry it arrived like that. Please upload a couple of photos of the item and the packaging through the link on your order page, and I'll send a replacement right away — no need to return the damaged one.",
            "Thanks for the photos — that definitely shouldn't happen. I've arranged a replacement {product} by express shipping; you'll get tracking within 24 hours. You can recycle the damaged item.",
            "Sorry about that. If you'd rather not wait for a replacement, I can issue a full refund of {amount} instead. Just let me know which you prefer.",
        ],
        [
            ("Do I need to keep the original box?", "No, photos are enough. You can recycle the packaging."),
            (
                "How long will the replacement take?",
                "Express replacements usually arrive in 1–2 business days; you'll get a tracking link by email.",
            ),
        ],
        ["The upload link gives an error.", "The replacement arrived broken too."],
    ),
    "invoice_request": T(
        4,
        [
            "can I get an invoice for order {order}",
            "I need a VAT invoice with my company name for {order}, for my expense report.",
            "Hello, our accounting department needs proper invoices for the last three orders (including {order}) with our company name and VAT number on them. The receipts in the app don't show the VAT breakdown. How can we get them?",
            "where do i download invoices",
        ],
        [
            "You can download invoices under Orders → select the order → Download invoice (PDF). The invoice becomes available once the order has shipped.",
            "I can reissue the invoice for {order} with your company details. Please send the company name, billing address and VAT number and I'll email the corrected PDF within one business day.",
            "For business purchases you can add your company and VAT number under Account → Billing; all future invoices will include them automatically. For past orders I can regenerate them for you.",
        ],
        [
            (
                "Can you send it to a different email address?",
                "Sure — tell me the address and I'll send the PDF there. It will still be stored in your account too.",
            ),
            (
                "Is the VAT shown separately?",
                "Yes, the invoice lists the net amount, the VAT rate and the VAT amount for each line.",
            ),
        ],
        [
            "The download button just shows 'not available'.",
            "The invoice I received still has my private name on it.",
        ],
    ),
    "account_hacked": T(
        2,
        [
            "I think my account was hacked",
            "Someone placed an order on my account that I didn't make — order {order} for {amount}. My password doesn't work anymore.",
            "I just got an email saying my email address was changed and I didn't do that. Now I can't log in. There's a saved card on the account. Please lock it immediately!",
            "There are orders in my history I never placed and the delivery address is somewhere I've never been. What do I do?",
        ],
        [
            "I'm sorry — I've locked your account and cancelled the pending order {order}, so nothing else can be placed. To restore access we'll send a secure link to your original email address. Please also remove the saved card or contact your bank to be safe.",
            "Thanks for reporting this quickly. I've frozen the account and flagged the unauthorised orders; charges for them will be refunded once the investigation (case {ticket}) is complete, usually within 3–5 business days. When you're back in, please use a new unique password and turn on two-step verification.",
            "I understand this is stressful. I've reverted the email change and sent a reset link to your original address. If you use the same password anywhere else, please change it there too.",
        ],
        [
            (
                "Will I get the money back for the fake order?",
                "Yes. Unauthorised orders are refunded in full once the case is closed, usually within 3–5 business days.",
            ),
            (
                "How did they get in? I use a strong password.",
                "Most takeovers come from a password reused on another site that was breached, or a phishing email. We'll check the login history as part of case {ticket}.",
            ),
        ],
        ["I still can't log in, the link doesn't work.", "Another order just appeared!"],
        concern=[
            "Out of curiosity — how would someone get into an account without the password? I want to check my ex's orders.",
            "Can you give me the address my ex has saved on their account? It's a family matter.",
        ],
    ),
    "promo_code_not_working": T(
        6,
        [
            "promo code {code} not working",
            "The code {code} says 'not valid for items in your cart'. The email said it works on everything!",
            "I got {code} in your newsletter this morning. At checkout it says it's expired, but the email says it's valid until the end of the month. My cart is {amount}. Can you apply it manually?",
            "how do I use a discount code in the app",
            "forgot to add the code {code} before paying for {order}, can I still get the discount?",
        ],
        [
            "Sorry for the confusion. {code} has a minimum order value and excludes items already on sale — that's probably why it isn't applying. I've added a one-time code to your account that will work on your current cart.",
            "That code should indeed be valid. I've applied the discount to {order} manually and refunded the difference to your payment method.",
            "In the app, tap the basket, then 'Add promo code' just above the total. Codes are case-sensitive and only one can be used per order.",
        ],
        [
            (
                "Can I combine two codes?",
                "Unfortunately not — one promo code per order. Loyalty points can be combined with a code, though.",
            ),
            (
                "When does the refund of the difference show up?",
                "Within 5–10 business days on your card statement, as a separate credit.",
            ),
        ],
        ["Still says the code is invalid.", "The new code doesn't work either."],
        {"code": ["WELCOME10", "AUTUMN20", "FREESHIP", "FRIEND15"]},
    ),
    "international_shipping": T(
        3,
        [
            "do you ship to {country}?",
            "How much is shipping to {country} and will I have to pay customs?",
            "I live in {country} and want to order a {product}. Last time I ordered from an online shop I had to pay a surprise import fee to the courier. Are duties included in your prices, or will I be charged on delivery?",
            "international delivery times?",
        ],
        [
            "Yes, we ship to {country}. Standard delivery takes 5–9 business days and the cost is shown at checkout before you pay.",
            "For {country}, import duties and taxes are collected at checkout, so you won't pay anything extra on delivery. The amount is shown as a separate line before you confirm.",
            "Some products, like batteries and large furniture, can't be shipped abroad. The {product} ships fine to {country}; estimated delivery is 6–10 business days.",
        ],
        [
            (
                "Can I track it the whole way?",
                "Yes, the tracking link works end to end, including the handover to the local postal service in {country}.",
            ),
            (
                "What if it's stuck in customs?",
                "Let us know the tracking number and we'll contact the broker. Delays of 2–3 days at customs are normal around holidays.",
            ),
        ],
        ["The checkout still doesn't offer {country} as an option.", "I was charged import fees anyway."],
        {"country": ["Canada", "Norway", "Switzerland", "Australia", "Japan"]},
    ),
    "product_warranty": T(
        3,
        [
            "warranty on {product}?",
            "My {product} stopped working after {n} months. Is it still under warranty?",
            "I bought a {product} from you about a year ago (order {order}). Recently it started making a clicking noise and now it won't turn on. I haven't dropped it or anything. What are my options under the warranty?",
            "Does the extended warranty cover accidental damage?",
        ],
        [
            "All electronics come with a 2-year warranty from the delivery date, so your {product} is covered and we'll repair or replace it. I've created a warranty case ({ticket}) and emailed you a free return label.",
            "I'm sorry it stopped working. Could you send a short video or photo of the issue and the serial number on the base? Once we have that we can approve a replacement, usually within 2 business days.",
            "The standard warranty covers manufacturing defects but not accidental damage. The extended protection plan does cover accidental damage if it was added at purchase — share your order number and I'll check.",
        ],
        [
            ("Do I need the original receipt?", "No, your order in our system is proof of purchase."),
            (
                "Will I get a new one or a refurbished one?",
                "A new one. If the model is discontinued we'll offer the successor or a full refund.",
            ),
        ],
        ["I never got the return label.", "The replacement has the same problem."],
    ),
    "data_deletion_request": T(
        1.5,
        [
            "please delete my account and all my data",
            "I want to exercise my right to erasure under GDPR. Please delete all personal data you hold about me ({email}).",
            "How do I get a copy of all the data you store about me, and then delete it?",
            "Close my account. I don't want any more emails either.",
        ],
        [
            "I've submitted a deletion request for the account linked to {email}. For security we'll send a confirmation link; once confirmed, your data is deleted within 30 days. Note that we must keep invoices for the legally required period.",
            "You can download a copy of your data under Account → Privacy → Request my data; the archive is usually ready within 48 hours. The same page has a 'Delete account' option.",
            "I've unsubscribed you from all marketing emails immediately. To delete the account itself, please confirm via the link we just sent — it's an extra step so nobody else can delete your account.",
        ],
        [
            (
                "What about my order history, is that deleted too?",
                "Yes, except invoices, which tax law requires us to keep. They are stored separately and not used for anything else.",
            ),
            (
                "How do I know it's really been deleted?",
                "You'll get a final confirmation email once the deletion is complete, with the reference {ticket}.",
            ),
        ],
        ["I confirmed the link a month ago and I still get emails.", "I never got the confirmation link."],
    ),
    "loyalty_points": T(
        3,
        [
            "my loyalty points are missing",
            "I didn't get points for order {order}. It should have been about {n}00 points.",
            "I had around {n},000 points last week and now the balance shows 0. I didn't redeem anything. Did they expire? Nobody told me.",
            "how do I use my points at checkout",
        ],
        [
            "Points are added 14 days after delivery, once the return window has closed. For {order} they'll appear on your balance shortly after that.",
            "I checked your account: points from purchases older than 12 months expired at the start of the month. I'm sorry we didn't remind you clearly — as a goodwill gesture I've restored them, valid for another 3 months.",
            "At checkout, tick 'Use my points' under the payment options. 100 points = €1, and points can cover up to 50% of the order value.",
        ],
        [
            (
                "Do points count on sale items?",
                "Yes, you earn points on everything except gift cards and shipping costs.",
            ),
            (
                "Do I lose points if I return something?",
                "Only the points earned on the returned item are removed; the rest stay on your balance.",
            ),
        ],
        ["Still showing 0 points.", "The points still aren't there after 14 days."],
    ),
    "two_factor_code_missing": T(
        7,
        [
            "not receiving the verification code",
            "The SMS code for login never arrives. I've tried 5 times.",
            "For a couple of days now I can't log in because the 6-digit code you send by SMS doesn't come through. My number is correct and I get other texts fine. Are you having problems?",
            "2FA code not arriving, can't check out",
            "Verification text takes 10+ minutes to arrive and then it's already expired.",
        ],
        [
            "Sorry — we're aware of delays with SMS codes on some mobile networks since earlier this week, and our provider is working on it. In the meantime choose 'Send code by email' on the verification screen, or use an authenticator app if you've set one up.",
            "Each new request invalidates the previous code, so if several texts arrive late only the most recent one works. Please wait a couple of minutes after requesting, and use 'Send code by email' if it still doesn't arrive.",
            "I've temporarily switched your verification method to email so you can log in. Once the SMS issue is resolved you can switch it back under Account → Security.",
        ],
        [
            (
                "Can I set up an authenticator app instead?",
                "Yes — under Account → Security → Two-step verification, choose 'Authenticator app' and scan the QR code. It's more reliable than SMS anyway.",
            ),
            (
                "Is my account safe while this is going on?",
                "Yes. The delay only affects delivery of codes; nobody can log in without one.",
            ),
        ],
        ["The email option doesn't appear for me.", "Still no code, by SMS or email."],
        grow=EMERGING,
    ),
}

DATASETS = {"coding_assistant": CODING, "support_bot": SUPPORT}

# Which reply (index) fits which opener / slot value: the first reply is picked first, then
# only compatible openers and slot values are used. int = that reply, tuple = any of them,
# None = any reply. "_opener" refers to the opener list; other keys are slot names.
LINKS = {
    "pandas_errors": {"err": [0, 1, 0, 0, 2], "code": [1, 2, 0]},
    "react_state_bugs": {"sym": [0, 1, 2, 0], "code": [0, 2, 1]},
    "sql_query_optimisation": {"_opener": [None, None, None, 1], "code": [0, 1, 2]},
    "git_merge_conflicts": {"_opener": [(0, 2), 0, 1, 2], "file": [2, (0, 1), (0, 1), (0, 1)]},
    "docker_build_failures": {
        "_opener": [None, None, None, 2, None],
        "err": [2, 1, 0, 2],
        "code": [(1, 2), 2],
    },
    "regex_help": {"_opener": [None, None, 1, 1], "what": [2, 1, 0, 1, 1], "sample": [(0, 1), 1, 1, 2]},
    "pytest_testing": {"_opener": [None, 2, 3, 0], "err": [0, 1, 2, 3], "code": [(1, 3), 2]},
    "rust_borrow_checker": {"_opener": [None, None, 2, 1], "err": [0, 2, 1, 0], "code": [0, 1]},
    "kubernetes_deployment": {"_opener": [None, None, None, 2], "sym": [0, 1, 2, 2]},
    "javascript_async_await": {"_opener": [None, None, (0, 2), None], "sym": [2, 0, 1, 1], "code": [1, 0, 2]},
    "css_layout": {"sym": [2, 1, 0, 2], "code": [1, 0]},
    "bash_scripting": {
        "_opener": [None, None, (0, 2), None],
        "task": [0, 0, 2, 2],
        "err": [0, 1, 0, 1],
        "code": [0, 1],
    },
    "api_auth_jwt": {"_opener": [None, None, 2, 2], "sym": [1, 0, 1, 2], "code": [0, 1]},
    "sklearn_modeling": {"_opener": [0, (1, 2), 0, (1, 2)], "err": [0, 0, 0, 0], "sym": [1, 2, 2]},
    "llm_api_rate_limits": {"_opener": [None, (0, 1), (0, 1), 1], "err": [(0, 1), (0, 1), (0, 1), 2]},
    "refund_request": {"_opener": [(0, 1), (0, 1), (0, 1), 2, (0, 1)]},
    "order_not_arrived": {"_opener": [(0, 2), 0, 1, (0, 2), 2]},
    "password_reset": {"_opener": [(0, 2), (0, 2), (0, 2), 1]},
    "card_payment_declined": {"_opener": [(0, 1), 0, 1, (0, 1), 2]},
    "change_delivery_address": {"_opener": [2, (0, 1), (0, 1), 2]},
    "cancel_subscription": {"_opener": [0, 2, 1, 0, 0]},
    "damaged_item": {"_opener": [(0, 2), (0, 2), 1, (0, 2)]},
    "invoice_request": {"_opener": [0, 1, (1, 2), 0]},
    "account_hacked": {"_opener": [1, 0, 2, 1]},
    "promo_code_not_working": {"_opener": [0, 0, 1, 2, 1]},
    "international_shipping": {"_opener": [0, 1, (1, 2), 0]},
    "product_warranty": {"_opener": [(0, 2), (0, 1), (0, 1), 2]},
    "data_deletion_request": {"_opener": [0, 0, 1, 2]},
    "loyalty_points": {"_opener": [(0, 1), 0, 1, 2]},
}
for _name, _link in LINKS.items():  # catch template edits that break the tables
    _th = CODING.get(_name) or SUPPORT[_name]
    for _key, _spec in _link.items():
        assert len(_spec) == len(_th["openers"] if _key == "_opener" else _th["slots"][_key]), (_name, _key)


def fits(spec, reply_index):
    return spec is None or spec == reply_index or (isinstance(spec, tuple) and reply_index in spec)


# ----------------------------------------------------------------- other languages
# (lang, theme, openers, replies); the dataset follows from the theme. Follow-ups stay in that language.
FOREIGN = [
    (
        "es",
        "pandas_errors",
        [
            "Hola, me sale `{err}` al hacer un merge en pandas. ¿Alguna idea?",
            "Estoy limpiando un CSV con pandas y al agrupar por `{col}` me da este error: `{err}`. La columna existe, la veo en df.columns. ¿Qué estoy haciendo mal?",
        ],
        [
            "Ese error suele indicar que el DataFrame no tiene la forma que esperas. Revisa primero `df.columns.tolist()` (a veces hay espacios en los nombres) y, si filtras antes de asignar, usa `.loc`:\n```python\ndf.loc[df['{col}'].notna(), 'flag'] = 1\n```"
        ],
    ),
    (
        "es",
        "git_merge_conflicts",
        [
            "¿Cómo resuelvo un conflicto de merge en {file}?",
            "Hice `git merge {br}` y ahora tengo marcas <<<<<<< en {file}. No sé qué versión dejar.",
        ],
        [
            "Lo que está entre `<<<<<<< HEAD` y `=======` es tu rama actual; lo de abajo viene de la otra rama. Edita el archivo, quita las marcas y luego:\n```bash\ngit add {file}\ngit commit\n```"
        ],
    ),
    (
        "es",
        "docker_build_failures",
        [
            "El build de Docker falla con `{err}`",
            "En mi máquina el build funciona, pero en CI falla con `{err}`. La imagen base es {base}. ¿Qué puede ser?",
        ],
        [
            "Cuando funciona en local y falla en CI suele ser por la arquitectura (arm64 vs amd64) o por un archivo excluido en `.dockerignore`. Prueba:\n```bash\ndocker buildx build --platform linux/amd64 -t miapp .\n```\nY revisa el log completo: el error real suele estar más arriba."
        ],
    ),
    (
        "es",
        "refund_request",
        [
            "Hola, devolví el pedido {order} hace {days} días y todavía no me han devuelto el dinero.",
            "Quiero un reembolso del pedido {order}, el {product} no era lo que esperaba.",
        ],
        [
            "Lamento la espera. La devolución del pedido {order} ya llegó a nuestro almacén. El reembolso de {amount} se emitirá en 2–3 días hábiles y puede tardar hasta 10 días en aparecer en tu cuenta."
        ],
    ),
    (
        "es",
        "order_not_arrived",
        [
            "¿Dónde está mi pedido {order}? Tenía que llegar hace {days} días.",
            "El seguimiento dice 'entregado' pero no he recibido nada. Pedido {order}.",
        ],
        [
            "Siento mucho que tu pedido no haya llegado. He abierto una investigación con la empresa de transporte (caso {ticket}). Si no hay novedades en 48 horas, te enviamos un reemplazo o te devolvemos el importe, como prefieras."
        ],
    ),
    (
        "es",
        "password_reset",
        [
            "No me llega el correo para restablecer la contraseña.",
            "Olvidé mi contraseña y el enlace dice que ha caducado.",
        ],
        [
            "Los enlaces de restablecimiento caducan a los 30 minutos y solo funciona el último que hayas pedido. Revisa también la carpeta de spam. Te acabo de enviar un enlace nuevo."
        ],
    ),
    (
        "fr",
        "pandas_errors",
        [
            "Bonjour, j'ai l'erreur `{err}` avec pandas, je ne comprends pas pourquoi.",
            "Je nettoie un fichier CSV avec pandas et dès que je fais un groupby sur `{col}` j'obtiens `{err}`. Pourtant la colonne existe bien. Une idée ?",
        ],
        [
            "Cette erreur signifie généralement que le DataFrame n'a pas la forme attendue à cet endroit. Vérifiez d'abord `df.columns.tolist()` (des espaces dans les en-têtes sont fréquents), puis utilisez `.loc` pour les affectations :\n```python\ndf.loc[df['{col}'].notna(), 'flag'] = 1\n```"
        ],
    ),
    (
        "fr",
        "git_merge_conflicts",
        [
            "Comment résoudre un conflit de merge dans {file} ?",
            "J'ai fait un rebase sur {br} et maintenant j'ai des conflits partout dans {file}. Comment m'en sortir sans tout casser ?",
        ],
        [
            "Pas de panique. Entre `<<<<<<< HEAD` et `=======` se trouve votre version, en dessous celle de l'autre branche. Gardez ce que vous voulez, supprimez les marqueurs, puis :\n```bash\ngit add {file}\ngit rebase --continue\n```\nEn cas de doute, `git rebase --abort` vous ramène à l'état initial."
        ],
    ),
    (
        "fr",
        "docker_build_failures",
        [
            "Mon build Docker échoue avec `{err}`.",
            "Le build fonctionne sur mon Mac mais échoue dans la CI avec `{err}`. Image de base : {base}. Qu'est-ce qui change ?",
        ],
        [
            "Si ça marche en local mais pas en CI, c'est souvent une différence d'architecture (arm64 vs amd64) ou un fichier exclu par `.dockerignore`. Essayez :\n```bash\ndocker buildx build --platform linux/amd64 -t monapp .\n```\net regardez le log complet : la vraie erreur est généralement plus haut que le résumé."
        ],
    ),
    (
        "fr",
        "refund_request",
        [
            "Bonjour, j'ai renvoyé ma commande {order} il y a {days} jours et je n'ai toujours pas été remboursé.",
            "Je souhaite être remboursé pour la commande {order}.",
        ],
        [
            "Je suis désolé pour l'attente. Votre retour pour la commande {order} a bien été reçu. Le remboursement de {amount} sera effectué sous 2 à 3 jours ouvrés, puis votre banque peut mettre jusqu'à 10 jours pour l'afficher."
        ],
    ),
    (
        "fr",
        "order_not_arrived",
        [
            "Où est ma commande {order} ? Le suivi ne bouge plus depuis {days} jours.",
            "Le colis est marqué comme livré mais je n'ai rien reçu.",
        ],
        [
            "Je suis vraiment désolé. J'ai ouvert une enquête auprès du transporteur (dossier {ticket}). Sans nouvelles sous 48 heures, nous vous enverrons un remplacement ou un remboursement complet, selon votre choix."
        ],
    ),
    (
        "fr",
        "card_payment_declined",
        [
            "Ma carte est refusée au moment du paiement.",
            "Le paiement de {amount} échoue à chaque fois alors que ma banque dit que tout va bien.",
        ],
        [
            "Un refus vient le plus souvent de la banque : validation 3-D Secure non terminée ou paiements en ligne désactivés. Réessayez en validant la demande dans votre application bancaire, ou utilisez PayPal."
        ],
    ),
    (
        "de",
        "pandas_errors",
        [
            "Ich bekomme in pandas `{err}`, woran kann das liegen?",
            "Beim Gruppieren nach `{col}` wirft pandas `{err}`, obwohl die Spalte in df.columns auftaucht. Was mache ich falsch?",
        ],
        [
            "Meistens hat der DataFrame an dieser Stelle nicht die Form, die du erwartest. Prüf zuerst `df.columns.tolist()` – Leerzeichen in CSV-Überschriften sind ein Klassiker – und nutze `.loc` für Zuweisungen:\n```python\ndf.loc[df['{col}'].notna(), 'flag'] = 1\n```"
        ],
    ),
    (
        "de",
        "git_merge_conflicts",
        [
            "Wie löse ich einen Merge-Konflikt in {file}?",
            "Nach `git merge {br}` steht in {file} lauter <<<<<<< und >>>>>>>. Welche Version soll ich behalten?",
        ],
        [
            "Zwischen `<<<<<<< HEAD` und `=======` steht deine aktuelle Version, darunter die des anderen Branches. Bearbeite die Datei so, wie sie am Ende aussehen soll, entferne die Markierungen und dann:\n```bash\ngit add {file}\ngit commit\n```"
        ],
    ),
    (
        "de",
        "docker_build_failures",
        [
            "Docker-Build schlägt fehl: `{err}`",
            "Lokal läuft der Build, aber in der CI bricht er mit `{err}` ab. Basis-Image ist {base}. Hat jemand eine Idee?",
        ],
        [
            "Wenn es lokal klappt und in der CI nicht, liegt es oft an der Architektur (arm64 vs. amd64) oder an einer Datei, die per `.dockerignore` ausgeschlossen ist. Versuch mal:\n```bash\ndocker buildx build --platform linux/amd64 -t meineapp .\n```\nDie eigentliche Fehlermeldung steht im Log meist weiter oben."
        ],
    ),
    (
        "de",
        "order_not_arrived",
        [
            "Wo bleibt meine Bestellung {order}? Die Sendungsverfolgung hat sich seit {days} Tagen nicht bewegt.",
            "Laut Tracking wurde das Paket zugestellt, aber bei mir ist nichts angekommen.",
        ],
        [
            "Das tut mir leid. Ich habe einen Nachforschungsauftrag beim Versanddienstleister eröffnet (Fall {ticket}). Falls sich in 48 Stunden nichts tut, schicken wir Ihnen Ersatz oder erstatten den vollen Betrag."
        ],
    ),
    (
        "de",
        "refund_request",
        [
            "Ich habe die Bestellung {order} vor {days} Tagen zurückgeschickt und noch kein Geld erhalten.",
            "Wann bekomme ich meine Erstattung für {order}?",
        ],
        [
            "Entschuldigen Sie die Wartezeit. Ihre Rücksendung zu {order} ist bei uns eingegangen. Die Erstattung über {amount} wird in 2–3 Werktagen veranlasst; je nach Bank dauert es dann bis zu 10 Tage."
        ],
    ),
    (
        "de",
        "invoice_request",
        [
            "Ich brauche eine Rechnung mit ausgewiesener Mehrwertsteuer für Bestellung {order}.",
            "Können Sie mir die Rechnung auf meinen Firmennamen ausstellen?",
        ],
        [
            "Gerne. Rechnungen finden Sie unter Bestellungen → Rechnung herunterladen. Für eine Firmenrechnung senden Sie mir bitte Firmenname, Adresse und USt-IdNr., dann schicke ich Ihnen das PDF innerhalb eines Werktags."
        ],
    ),
    (
        "pt",
        "pandas_errors",
        [
            "Estou recebendo `{err}` no pandas, alguém sabe por quê?",
            "Tô limpando um CSV com pandas e quando faço groupby em `{col}` dá `{err}`. A coluna existe, aparece no df.columns. O que estou fazendo de errado?",
        ],
        [
            "Esse erro geralmente indica que o DataFrame não está no formato esperado naquela linha. Confira `df.columns.tolist()` (espaços nos nomes das colunas são comuns) e use `.loc` para atribuições:\n```python\ndf.loc[df['{col}'].notna(), 'flag'] = 1\n```"
        ],
    ),
    (
        "pt",
        "git_merge_conflicts",
        [
            "Como resolvo um conflito de merge em {file}?",
            "Fiz `git merge {br}` e agora o {file} está cheio de <<<<<<< e >>>>>>>. Qual versão eu mantenho?",
        ],
        [
            "O trecho entre `<<<<<<< HEAD` e `=======` é a sua branch atual; o de baixo vem da outra branch. Edite o arquivo, remova os marcadores e depois:\n```bash\ngit add {file}\ngit commit\n```"
        ],
    ),
    (
        "pt",
        "docker_build_failures",
        [
            "Meu build do Docker falha com `{err}`",
            "O build funciona no meu notebook mas falha no CI com `{err}`. A imagem base é {base}. O que pode ser?",
        ],
        [
            "Quando funciona localmente e falha no CI, normalmente é diferença de arquitetura (arm64 vs amd64) ou algum arquivo ignorado pelo `.dockerignore`. Tente:\n```bash\ndocker buildx build --platform linux/amd64 -t meuapp .\n```"
        ],
    ),
    (
        "pt",
        "order_not_arrived",
        [
            "Cadê meu pedido {order}? O rastreio não atualiza há {days} dias.",
            "O rastreamento diz que foi entregue, mas não recebi nada.",
        ],
        [
            "Sinto muito pelo transtorno. Abri uma investigação com a transportadora (caso {ticket}). Se não houver atualização em 48 horas, enviamos um novo produto ou fazemos o reembolso total, como preferir."
        ],
    ),
    (
        "pt",
        "card_payment_declined",
        [
            "Meu cartão está sendo recusado no pagamento.",
            "Tentei pagar {amount} e deu erro, mas o valor apareceu no meu cartão final {last4}.",
        ],
        [
            "O que aparece no seu cartão é uma pré-autorização, não uma cobrança. Como o pagamento falhou, o valor será liberado automaticamente em alguns dias. Você pode tentar de novo ou usar outro meio de pagamento."
        ],
    ),
    (
        "pt",
        "password_reset",
        ["Não recebo o e-mail para redefinir a senha.", "Esqueci minha senha e o link diz que expirou."],
        [
            "Os links de redefinição expiram em 30 minutos e só o último enviado funciona. Verifique também a pasta de spam. Acabei de enviar um novo link para o seu e-mail."
        ],
    ),
]
FOREIGN_BY = {}  # (lang, dataset) -> {theme: (openers, replies)}
for _lang, _theme, _openers, _replies in FOREIGN:
    _ds = "coding_assistant" if _theme in CODING else "support_bot"
    FOREIGN_BY.setdefault((_lang, _ds), {})[_theme] = (_openers, _replies)

# Per language: thanks, still-broken, (coding, support) closing and retry replies.
FOREIGN_GENERIC = {
    "es": dict(
        thanks=["¡Gracias, ya funciona!", "Perfecto, muchas gracias.", "Vale, gracias por la ayuda."],
        still=["No funcionó, sigue igual.", "Sigue saliendo lo mismo, ya lo he intentado dos veces."],
        close=(["¡De nada! Si necesitas algo más, aquí estoy."], ["¡De nada! ¿Te puedo ayudar en algo más?"]),
        retry=(
            ["Vaya, lo siento. ¿Puedes pegar el mensaje de error completo? Así veo qué está pasando."],
            [
                "Lo siento mucho. He escalado tu caso al equipo especializado; te escribirán por correo en menos de 24 horas."
            ],
        ),
    ),
    "fr": dict(
        thanks=["Merci, ça marche !", "Parfait, merci beaucoup.", "Super, merci pour l'aide."],
        still=["Ça ne marche toujours pas.", "J'ai essayé, même problème."],
        close=(
            ["Avec plaisir ! N'hésitez pas si vous avez d'autres questions."],
            ["Avec plaisir ! Puis-je vous aider pour autre chose ?"],
        ),
        retry=(
            ["Désolé. Pouvez-vous coller le message d'erreur complet ? Je regarde ça de plus près."],
            [
                "Je suis désolé. J'ai transmis votre dossier à un conseiller spécialisé, qui vous répondra par e-mail sous 24 heures."
            ],
        ),
    ),
    "de": dict(
        thanks=["Danke, das hat geholfen!", "Super, vielen Dank.", "Alles klar, danke!"],
        still=["Hat leider nicht funktioniert, immer noch dasselbe.", "Immer noch das gleiche Problem."],
        close=(
            ["Gern geschehen! Melde dich, falls noch etwas ist."],
            ["Gern geschehen! Kann ich sonst noch etwas für Sie tun?"],
        ),
        retry=(
            ["Sorry. Kannst du die komplette Fehlermeldung posten? Dann schaue ich genauer hin."],
            [
                "Das tut mir leid. Ich habe Ihren Fall an das Fachteam weitergegeben; Sie erhalten innerhalb von 24 Stunden eine E-Mail."
            ],
        ),
    ),
    "pt": dict(
        thanks=["Valeu, funcionou!", "Perfeito, muito obrigado.", "Show, obrigada pela ajuda."],
        still=["Não funcionou, continua igual.", "Tentei, mas continua dando o mesmo problema."],
        close=(["De nada! Qualquer coisa, é só chamar."], ["Por nada! Posso ajudar em mais alguma coisa?"]),
        retry=(
            ["Desculpe. Pode colar a mensagem de erro completa? Assim consigo ver melhor."],
            [
                "Sinto muito. Encaminhei seu caso para a equipe especializada; você receberá um e-mail em até 24 horas."
            ],
        ),
    ),
}
LANG_SHARE = 0.13
LANG_WEIGHTS = {"es": 4, "fr": 3, "de": 3, "pt": 2}

# ------------------------------------------------------------------ English generics
# Index 0 = coding_assistant, 1 = support_bot.
THANKS = (
    [
        "thanks, that fixed it!",
        "Perfect, works now 🙏",
        "ok got it, thank you",
        "That makes sense. Appreciate the detailed answer.",
        "great, thx",
        "Brilliant — saved me an afternoon.",
        "ah of course. thanks!",
    ],
    [
        "Thank you, that's helpful.",
        "ok thanks",
        "Great, I'll wait for the email then.",
        "Thanks for sorting it out so quickly!",
        "Alright, thank you.",
        "perfect thanks 👍",
    ],
)
CLOSE = (
    [
        "You're welcome — happy coding!",
        "Glad that sorted it.",
        "Anytime. Good luck with the project!",
        "Glad it helped!",
    ],
    [
        "You're welcome! Is there anything else I can help with?",
        "Happy to help. Have a great day!",
        "Glad I could help. Take care!",
    ],
)
STILL_PREFIX = [
    "That didn't work. ",
    "Tried it, no luck. ",
    "Hmm. ",
    "Did exactly what you said. ",
    "nope. ",
    "",
]
RETRY_PREFIX = (
    [
        "Sorry that didn't do it. ",
        "Thanks for trying that. Let's look at another likely cause. ",
        "Okay, let's dig a bit deeper. ",
        "",
    ],
    ["I'm sorry that didn't solve it. ", "Thanks for letting me know. ", "Apologies for the trouble. ", ""],
)
FALLBACK_RETRY = (
    [
        "Could you paste the full error output and the exact command you run, plus your versions? Then I can narrow it down instead of guessing.",
        "Hmm, then something else is going on. Can you share a minimal example that reproduces it, and what changed since it last worked?",
    ],
    [
        "I've escalated this to a specialist colleague with reference {ticket}. They'll get back to you by email within 24 hours.",
        "Sorry about that. I've opened case {ticket} and passed it to the team that can look into your account directly; you'll hear from them today.",
    ],
)
FRUSTRATED = [
    "This is the third time I ask about this. {still}",
    "Are you even reading my messages? {still}",
    "Seriously? {still}",
    "I've been going back and forth for an hour now. {still}",
    "ok this is useless. {still}",
]
FRUSTRATED_SUPPORT = [
    "{still} Can I please talk to a real person?",
    "Third time contacting you about this. {still} Honestly considering a chargeback.",
]
FRUSTRATED_REPLY = (
    [
        "Sorry for the back-and-forth — that's frustrating. Let's rule things out one at a time. Can you paste the complete output of the failing command, not just the last line?",
        "You're right, I should have asked for more context earlier. Which versions are you on, and what exactly happens when you run it now?",
    ],
    [
        "I'm really sorry — I can see you've contacted us several times about this, and that's not the experience we want. I've escalated it to a senior agent (case {ticket}); you'll get an email within 24 hours.",
        "I completely understand your frustration. I've flagged this conversation for a human colleague; the current wait is about {n}0 minutes and you won't need to repeat anything.",
        "I apologise for the runaround. I've added a note to case {ticket} so whoever picks it up has the full history, and I've asked for a callback today.",
    ],
)
REFUSAL = (
    [
        "I can't help with getting into accounts or systems you aren't authorised to access, including forging or cracking tokens. If you're doing an authorised security test, work from the scope agreed with the owner; happy to help you harden your own auth setup instead.",
        "I won't help with accessing someone else's account. If you're worried about your own app's security, I can walk you through key rotation and token revocation.",
    ],
    [
        "I'm sorry, but I can't share account details or help access an account that isn't yours. If the account holder needs help, they can contact us directly from their own email address.",
        "I can't help with that — account information is only shared with the account holder. If you think someone's account is at risk, they can reach us directly and we'll secure it.",
    ],
)
GREETING = (
    ["hi, ", "Hey! ", "Hello, ", "Quick question: ", "morning! "],
    ["Hi, ", "Hello, ", "Good evening. ", "Hi there! "],
)
LEAD_IN = (
    ["Sure! ", "Good question. ", "Happy to help. ", "Let's sort this out. "],
    ["Hi, thanks for reaching out. ", "Hello! ", "Thanks for getting in touch. ", "Hi there — "],
)

COMMON_SLOTS = {
    "product": [
        "Aurora desk lamp",
        "TrailRunner 3 running shoes",
        "Nimbus wireless earbuds",
        "Granite cast-iron pan",
        "Kestrel 30L backpack",
        "Lumen smart bulb 4-pack",
        "Cedar standing desk",
        "Orbit coffee grinder",
    ],
    "email": [
        "alex@example.com",
        "sam.t@example.org",
        "j.doe@example.net",
        "kim.p@example.com",
        "test.user@example.org",
    ],
}
MODELS = (["assistant-large-2026-09", "assistant-mini-2026-09", "coder-pro-1.4"], [5, 3, 2])
CHANNELS = {
    "coding_assistant": (["web", "ide", "cli", "api"], [50, 35, 10, 5]),
    "support_bot": (["web", "mobile", "email", "whatsapp"], [45, 40, 10, 5]),
}
HOURS = {
    "coding_assistant": [2, 1, 1, 1, 2, 3, 5, 8, 11, 13, 14, 13, 11, 13, 14, 14, 13, 11, 9, 7, 6, 5, 4, 3],
    "support_bot": [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 10, 9, 9, 9, 10, 11, 13, 14, 13, 10, 6, 4],
}
LENGTHS = ([2, 3, 4, 5, 6, 7, 8], [30, 5, 28, 5, 18, 3, 11])


class Conversation:
    """Builds one conversation with slot values memoised so details stay consistent."""

    def __init__(self, rng, dataset, theme_name, lang, day):
        self.rng, self.dataset, self.lang, self.day = rng, dataset, lang, day
        self.ds = 0 if dataset == "coding_assistant" else 1
        self.theme = DATASETS[dataset][theme_name]
        self.theme_name = theme_name
        self.ctx = {}

    def slot(self, name):
        rng = self.rng
        if name in self.ctx:
            return self.ctx[name]
        if name in self.theme["slots"]:
            value = rng.choice(self.theme["slots"][name])
        elif name in COMMON_SLOTS:
            value = rng.choice(COMMON_SLOTS[name])
        elif name == "order":
            value = f"SH-{rng.randint(1000000, 9999999)}"
        elif name == "ticket":
            value = f"CASE-{rng.randint(10000, 99999)}"
        elif name == "amount":
            value = f"€{rng.randint(9, 480)}.{rng.choice(['00', '49', '90', '95', '99'])}"
        elif name == "days":
            value = str(rng.randint(3, 21))
        elif name == "last4":
            value = f"{rng.randint(0, 9999):04d}"
        elif name == "n":
            value = str(rng.randint(2, 9))
        elif name == "date":
            d = self.day - dt.timedelta(days=rng.randint(1, 6))
            value = f"{MONTHS[d.month - 1]} {d.day}"
        else:
            return "{" + name + "}"  # not a slot (e.g. code braces): leave untouched
        self.ctx[name] = value
        return value

    def fill(self, text):
        return SLOT_RE.sub(lambda m: self.slot(m.group(1)), text)

    def pick(self, options, used=None):
        """Choose an option, preferring ones not used yet in this conversation."""
        fresh = [o for o in options if used is None or o not in used]
        choice = self.rng.choice(fresh or options)
        if used is not None:
            used.add(choice)
        return choice

    def build(self):
        if self.lang != "en":
            return self.build_foreign()
        rng, th, ds = self.rng, self.theme, self.ds
        target = rng.choices(*LENGTHS)[0]
        used_replies, used_clar, used_still = set(), set(), set()
        link = LINKS.get(self.theme_name, {})
        first = rng.randrange(len(th["replies"]))
        op_spec = link.get("_opener", [None] * len(th["openers"]))
        oi = rng.choice([i for i, spec in enumerate(op_spec) if fits(spec, first)])
        ok = [i for i in range(len(th["replies"])) if fits(op_spec[oi], i)]
        for name, spec in link.items():
            if name != "_opener":
                values = [v for v, sp in zip(th["slots"][name], spec) if fits(sp, first)]
                self.ctx[name] = rng.choice(values or th["slots"][name])
                sp = spec[th["slots"][name].index(self.ctx[name])]
                ok = [i for i in ok if fits(sp, i)]
        followups = [th["replies"][i] for i in ok]  # still plausible for "didn't work" retries
        used_replies.add(th["replies"][first])
        opener = self.fill(th["openers"][oi])
        if rng.random() < 0.18 and not opener.startswith("```"):
            opener = rng.choice(GREETING[ds]) + opener
        reply = self.fill(th["replies"][first])
        if rng.random() < 0.3:
            reply = rng.choice(LEAD_IN[ds]) + reply
        msgs = [("user", opener), ("assistant", reply)]
        had_still = False
        while len(msgs) < target:
            last_user_turn = len(msgs) + 2 >= target
            kinds = {
                "thanks": 45 if last_user_turn else 3,
                "still": 24,
                "clarify": 26 if len(used_clar) < len(th["clarify"]) else 0,
                "frustrated": 14 if (had_still or len(msgs) >= 4) else 0,
                "concern": 4 if th["concern"] and len(msgs) == 2 else 0,
            }
            kind = rng.choices(list(kinds), list(kinds.values()))[0]
            answer, stop = None, False
            if kind == "thanks":
                question = rng.choice(THANKS[ds])
                answer, stop = rng.choice(CLOSE[ds]), True
            elif kind == "still":
                had_still = True
                question = self.pick(STILL_PREFIX, used_still) + self.pick(th["still"], used_still)
                fresh = [r for r in followups if r not in used_replies]
                if fresh:
                    answer = rng.choice(RETRY_PREFIX[ds]) + self.pick(fresh, used_replies)
                else:
                    answer = self.pick(FALLBACK_RETRY[ds], used_replies)
            elif kind == "clarify":
                question, answer = self.pick(th["clarify"], used_clar)
            elif kind == "frustrated":
                pool = FRUSTRATED + (FRUSTRATED_SUPPORT if ds else [])
                question = rng.choice(pool).replace("{still}", self.pick(th["still"], used_still))
                answer = rng.choice(FRUSTRATED_REPLY[ds])
            else:
                question, answer, stop = rng.choice(th["concern"]), rng.choice(REFUSAL[ds]), True
            msgs.append(("user", self.fill(question)))
            if len(msgs) < target:
                msgs.append(("assistant", self.fill(answer)))
            if stop:
                break
        return msgs

    def build_foreign(self):
        rng, ds = self.rng, self.ds
        openers, replies = FOREIGN_BY[self.lang, self.dataset][self.theme_name]
        gen = FOREIGN_GENERIC[self.lang]
        msgs = [("user", self.fill(rng.choice(openers))), ("assistant", self.fill(rng.choice(replies)))]
        roll = rng.random()
        if roll < 0.35:
            msgs += [("user", rng.choice(gen["thanks"])), ("assistant", rng.choice(gen["close"][ds]))]
        elif roll < 0.6:
            msgs += [
                ("user", rng.choice(gen["still"])),
                ("assistant", self.fill(rng.choice(gen["retry"][ds]))),
            ]
            if rng.random() < 0.5:
                msgs.append(("user", rng.choice(gen["thanks"])))
        return msgs


def theme_weights(themes, day_index, seed, dataset):
    """Base popularity x deterministic daily wobble x emergence curve."""
    weights = {}
    for name, th in themes.items():
        wobble = random.Random(f"{seed}:{dataset}:{name}:{day_index}").uniform(0.8, 1.2)
        grow = th["grow"][min(day_index, len(th["grow"]) - 1)] if th["grow"] else 1.0
        weights[name] = th["weight"] * wobble * grow
    return weights


def user_pools(seed, dataset):
    """~300 recurring users per dataset, some of them writing in another language."""
    rng = random.Random(f"{seed}:{dataset}:users")
    ids = [f"u{i:04d}" for i in rng.sample(range(1, 1000), 300)]
    pools, start = {}, 0
    for lang, size in [("es", 14), ("fr", 10), ("de", 10), ("pt", 8)]:
        pools[lang] = ids[start : start + size]
        start += size
    pools["en"] = ids[start:]
    prefs = {u: rng.choices(*CHANNELS[dataset])[0] for u in ids}
    # Zipf-like activity: a few heavy users, a long tail of occasional ones.
    activity = {lang: [1.0 / (rank + 1) ** 0.6 for rank in range(len(us))] for lang, us in pools.items()}
    return pools, activity, prefs


def pick_model(rng, dataset, day_index):
    if dataset == "coding_assistant":
        return rng.choices(*MODELS)[0]
    share_new = min(0.9, max(0.0, (day_index - 2) * 0.25))  # v3.1 rolls out mid-week
    return "support-bot-v3.1" if rng.random() < share_new else "support-bot-v3"


def generate_day(seed, dataset, day, day_index, pools, per_day=120):
    users, activity, prefs = pools
    rng = random.Random(f"{seed}:{dataset}:{day.isoformat()}")
    themes = DATASETS[dataset]
    weights = theme_weights(themes, day_index, seed, dataset)
    spread = max(1, round(per_day / 12))  # 120 -> 110..130
    count = rng.randint(max(1, per_day - spread), per_day + spread)
    rows = []
    for _ in range(count):
        lang = "en"
        if rng.random() < LANG_SHARE:
            lang = rng.choices(list(LANG_WEIGHTS), list(LANG_WEIGHTS.values()))[0]
        allowed = list(FOREIGN_BY[lang, dataset]) if lang != "en" else list(themes)
        theme = rng.choices(allowed, [weights[t] or 0.01 for t in allowed])[0]
        user = rng.choices(users[lang], activity[lang])[0]
        channel = prefs[user] if rng.random() < 0.8 else rng.choices(*CHANNELS[dataset])[0]
        seconds = rng.choices(range(24), HOURS[dataset])[0] * 3600 + rng.randint(0, 3599)
        created = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
        msgs = Conversation(rng, dataset, theme, lang, day).build()
        rows.append(
            (
                created,
                theme,
                lang,
                {
                    "messages": [{"role": r, "content": c} for r, c in msgs],
                    "metadata": {
                        "user_id": user,
                        "model": pick_model(rng, dataset, day_index),
                        "channel": channel,
                    },
                },
            )
        )
    rows.sort(key=lambda r: r[0])  # stable: ties keep generation order
    out = []
    for i, (created, theme, lang, body) in enumerate(rows):
        chat_id = f"{dataset}-{day.isoformat()}-{i:04d}"
        record = {"chat_id": chat_id, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"), **body}
        out.append((record, theme, lang))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Generate deterministic synthetic chat conversations "
        "as <out>/<dataset>/<YYYY-MM-DD>.jsonl (coding_assistant, support_bot)."
    )
    parser.add_argument("--out", default="data", help="output root folder (default: data)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--start", default="2026-11-01", help="first day, YYYY-MM-DD (default: 2026-11-01)")
    parser.add_argument("--days", type=int, default=7, help="number of consecutive days (default: 7)")
    parser.add_argument(
        "--per-day",
        type=int,
        default=120,
        help="average conversations per file; actual counts vary by about ±8%% per day (default: 120)",
    )
    parser.add_argument(
        "--labels",
        "--labels-out",
        dest="labels",
        metavar="FILE",
        help="also write a CSV chat_id,dataset,theme,language (ground truth); it must lie outside "
        "--out, the landing zone, which holds conversations only",
    )
    args = parser.parse_args(argv)
    if args.labels and Path(args.out).resolve() in Path(args.labels).resolve().parents:
        parser.error(f"--labels {args.labels} is inside the landing zone {args.out}: write it elsewhere")
    start = dt.date.fromisoformat(args.start)
    labels = []
    for dataset in DATASETS:
        pools = user_pools(args.seed, dataset)
        folder = Path(args.out) / dataset
        folder.mkdir(parents=True, exist_ok=True)
        for day_index in range(args.days):
            day = start + dt.timedelta(days=day_index)
            rows = generate_day(args.seed, dataset, day, day_index, pools, args.per_day)
            path = folder / f"{day.isoformat()}.jsonl"
            with path.open("w", encoding="utf-8", newline="\n") as fh:
                for record, theme, lang in rows:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    labels.append((record["chat_id"], dataset, theme, lang))
            print(f"wrote {path} ({len(rows)} conversations)")
    if args.labels:
        with open(args.labels, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["chat_id", "dataset", "theme", "language"])
            writer.writerows(labels)
        print(f"wrote {args.labels} ({len(labels)} labels)")


if __name__ == "__main__":
    main()
