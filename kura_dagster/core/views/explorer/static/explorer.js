// The Kura explorer: everything runs from the data embedded in this file, offline.
// All text from the data reaches the page through textContent, canvas fillText or SVG text: never as markup.
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("kura-data").textContent);
  const C = DATA.clusters;
  const V = DATA.conversations;
  const nNodes = C.id.length;
  const nConv = V.id.length;
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#ad494a"];
  const SCORE_COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
  const OTHER_COLOUR = "#b8bec9";
  const DIM_COLOUR = "rgba(184, 190, 201, 0.35)";
  const PAGE = 50; // members rendered per "show more"
  const CHILD_PAGE = 200; // children rendered per "show more" in the tree

  // ---------- small DOM helpers (text only) ----------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const key of Object.keys(attrs)) {
        const value = attrs[key];
        if (value === undefined || value === null) continue;
        if (key === "text") node.textContent = String(value);
        else if (key === "class") node.className = value;
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => Number(n).toLocaleString("en-US");
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");

  // ---------- the tree, derived from the columnar data ----------
  const children = Array.from({ length: nNodes }, () => []);
  const roots = [];
  for (let i = 0; i < nNodes; i++) (C.parent[i] >= 0 ? children[C.parent[i]] : roots).push(i);
  const rootOf = new Int32Array(nNodes);
  const lastDescendant = new Int32Array(nNodes); // depth-first order: descendants of i are i+1..lastDescendant[i]
  for (let i = 0; i < nNodes; i++) rootOf[i] = C.parent[i] >= 0 ? rootOf[C.parent[i]] : i;
  for (let i = nNodes - 1; i >= 0; i--) {
    lastDescendant[i] = Math.max(i, lastDescendant[i]);
    const p = C.parent[i];
    if (p >= 0) lastDescendant[p] = Math.max(lastDescendant[p], lastDescendant[i]);
  }
  const isLeaf = (i) => children[i].length === 0;
  const leafOf = new Int32Array(nConv).fill(-1);
  for (let i = 0; i < nNodes; i++) if (isLeaf(i)) leafOf.fill(i, C.start[i], C.end[i]);
  const rootIndex = new Map(roots.map((r, k) => [r, k]));
  const indexOfId = new Map(C.id.map((id, i) => [id, i]));
  const nameLower = C.name.map((n, i) => (n + "\n" + C.description[i]).toLowerCase());
  let summaryLower = null; // built on the first search

  // ---------- facets: filter and colour by ----------
  function scoreFacet(key, label, digits) {
    return { key, label, kind: "score", values: ["1", "2", "3", "4", "5"],
      code: (k) => digits.charCodeAt(k) - 49 };
  }
  const FACETS = [
    { key: "topic", label: "Top-level topic", kind: "cat", values: roots.map((r) => C.name[r]),
      code: (k) => (leafOf[k] >= 0 ? rootIndex.get(rootOf[leafOf[k]]) : -1) },
    { key: "language", label: "Language", kind: "multi", values: V.languages.values,
      codes: (k) => V.languages.codes[k], code: (k) => (V.languages.codes[k].length ? V.languages.codes[k][0] : -1) },
    scoreFacet("frustration", "User frustration", V.frustration),
    scoreFacet("concern", "Concerning score", V.concern),
  ];
  for (const key of Object.keys(V.metadata)) {
    const column = V.metadata[key];
    FACETS.push({ key: "meta:" + key, label: "Metadata: " + key, kind: "cat", values: column.values,
      code: (k) => column.codes[k] });
  }
  const facetByKey = new Map(FACETS.map((f) => [f.key, f]));
  function matches(filter, k) {
    const facet = facetByKey.get(filter.facet);
    if (facet.kind === "multi") return facet.codes(k).indexOf(filter.value) >= 0;
    return facet.code(k) === filter.value;
  }
  function valueCounts(facet, from, to, mask) {
    const counts = new Map();
    for (let k = from; k < to; k++) {
      if (mask && !mask[k]) continue;
      const codes = facet.kind === "multi" ? facet.codes(k) : [facet.code(k)];
      for (const c of codes) if (c >= 0) counts.set(c, (counts.get(c) || 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  }

  // Milliseconds of the last draw and search, for the bench (bench/report_scale.py).
  const timings = { draw: 0, search: 0 };

  // ---------- state ----------
  const state = { query: "", filters: [], colourBy: "topic", selected: -1, expanded: new Set(), focus: -1, hover: -1 };
  let mask = null; // Uint8Array over conversations when a search or filter is active
  let prefix = null; // prefix sums of mask: hits of node i = prefix[end] - prefix[start]
  const nameHit = new Uint8Array(nNodes);
  let autoExpanded = new Set();
  const hits = (i) => (prefix ? prefix[C.end[i]] - prefix[C.start[i]] : C.end[i] - C.start[i]);
  const visible = (i) => !prefix || hits(i) > 0 || nameHit[i] === 1;

  function recompute() {
    const started = performance.now();
    filterAndRender();
    timings.search = performance.now() - started;
  }
  function filterAndRender() {
    const q = state.query.trim().toLowerCase();
    nameHit.fill(0);
    autoExpanded = new Set();
    if (!q && !state.filters.length) {
      mask = null;
      prefix = null;
    } else {
      const m = new Uint8Array(nConv);
      if (q) {
        if (!summaryLower) summaryLower = V.summary.map((s) => s.toLowerCase());
        for (let k = 0; k < nConv; k++) if (summaryLower[k].indexOf(q) >= 0) m[k] = 1;
        for (let i = 0; i < nNodes; i++) {
          if (nameLower[i].indexOf(q) >= 0) {
            nameHit[i] = 1;
            m.fill(1, C.start[i], C.end[i]);
          }
        }
      } else m.fill(1);
      for (const filter of state.filters) for (let k = 0; k < nConv; k++) if (m[k] && !matches(filter, k)) m[k] = 0;
      mask = m;
      prefix = new Int32Array(nConv + 1);
      for (let k = 0; k < nConv; k++) prefix[k + 1] = prefix[k] + m[k];
      if (q) {
        // Reveal where the hits are, unless they are everywhere (then the tree stays compact).
        const shown = [];
        for (let i = 0; i < nNodes; i++) if (!isLeaf(i) && (hits(i) > 0 || nameHit[i])) shown.push(i);
        if (shown.length <= 300) autoExpanded = new Set(shown);
      }
    }
    renderStatus();
    renderTree();
    if (state.selected >= 0) renderDetails();
    rebuildBuckets();
    scheduleDraw();
  }

  function renderStatus() {
    const parts = [];
    if (mask) {
      const total = prefix[nConv];
      const leaves = roots.length ? countVisibleLeaves() : 0;
      parts.push(`${fmt(total)} of ${fmt(nConv)} conversations match in ${fmt(leaves)} clusters`);
      if (state.query.trim()) parts.push(`search “${state.query.trim()}”`);
      if (state.filters.length) parts.push(`${state.filters.length} filter${state.filters.length > 1 ? "s" : ""}`);
    } else {
      parts.push(`${fmt(nConv)} conversations in ${fmt(nNodes)} clusters`);
    }
    $("status").textContent = parts.join(" · ");
  }
  function countVisibleLeaves() {
    let n = 0;
    for (let i = 0; i < nNodes; i++) if (isLeaf(i) && hits(i) > 0) n++;
    return n;
  }

  // ---------- header ----------
  function renderHeader() {
    const t = DATA.totals;
    $("title").textContent = `Kura explorer · ${DATA.dataset} · ${DATA.date}`;
    const bits = [`${fmt(t.conversations)} conversations`, `${fmt(t.clusters)} clusters`, `${fmt(t.roots)} top-level topics`];
    if (t.failed_summaries) bits.push(`${fmt(t.failed_summaries)} failed summaries`);
    const unclustered = t.conversations - t.clustered - (t.hidden || 0);
    if (unclustered > 0) bits.push(`${fmt(unclustered)} not in any cluster`);
    bits.push(DATA.include_messages ? "messages included" : "messages not included (KURA_REPORT_INCLUDE_MESSAGES)");
    $("totals").textContent = bits.join(" · ");
  }

  // ---------- controls ----------
  function setupControls() {
    const facetSelect = $("filter-facet");
    const colourSelect = $("colour-by");
    for (const f of FACETS) {
      facetSelect.appendChild(el("option", { value: f.key, text: f.label }));
      colourSelect.appendChild(el("option", { value: f.key, text: f.label }));
    }
    facetSelect.addEventListener("change", fillFilterValues);
    fillFilterValues();
    $("filter-add").addEventListener("click", () => {
      const facet = facetSelect.value;
      const value = Number($("filter-value").value);
      if (!facetByKey.has(facet) || Number.isNaN(value)) return;
      if (!state.filters.some((f) => f.facet === facet && f.value === value)) state.filters.push({ facet, value });
      renderFilters();
      recompute();
    });
    colourSelect.addEventListener("change", () => {
      state.colourBy = colourSelect.value;
      rebuildBuckets();
      renderLegend();
      scheduleDraw();
    });
    let timer = 0;
    $("search").addEventListener("input", (event) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.query = event.target.value;
        recompute();
      }, 120);
    });
    $("collapse-all").addEventListener("click", () => {
      state.expanded.clear();
      renderTree();
    });
  }
  function fillFilterValues() {
    const facet = facetByKey.get($("filter-facet").value);
    const select = $("filter-value");
    select.textContent = "";
    if (!facet) return;
    for (const [code, count] of valueCounts(facet, 0, nConv, null)) {
      select.appendChild(el("option", { value: code, text: `${facet.values[code]} (${fmt(count)})` }));
    }
  }
  function renderFilters() {
    const holder = $("filters");
    holder.textContent = "";
    state.filters.forEach((filter, n) => {
      const facet = facetByKey.get(filter.facet);
      holder.appendChild(el("span", { class: "chip" }, [
        el("span", { text: `${facet.label}: ${facet.values[filter.value]}` }),
        el("button", { type: "button", title: "Remove filter", text: "×", onclick: () => {
          state.filters.splice(n, 1);
          renderFilters();
          recompute();
        } }),
      ]));
    });
  }

  // ---------- the tree (lazy: only expanded nodes have DOM children) ----------
  function isExpanded(i) {
    return state.expanded.has(i) || autoExpanded.has(i);
  }
  function nodeElement(i) {
    const row = el("div", { class: "node-row" + (i === state.selected ? " selected" : "") + (nameHit[i] ? " hit" : ""),
      "data-node": i, role: "treeitem", "aria-expanded": isLeaf(i) ? null : String(isExpanded(i)) }, [
      el("span", { class: "toggle", text: isLeaf(i) ? "•" : isExpanded(i) ? "▾" : "▸" }),
      el("span", { class: "name", text: C.name[i] || "(unnamed)", title: C.description[i] }),
      el("span", { class: "count", text: prefix ? `${fmt(hits(i))} / ${fmt(C.count[i])}` : fmt(C.count[i]) }),
    ]);
    const wrapper = el("div", { class: "node" }, [row]);
    if (!isLeaf(i) && isExpanded(i)) {
      const box = el("div", { class: "children", role: "group" });
      appendChildren(box, children[i], 0);
      wrapper.appendChild(box);
    }
    return wrapper;
  }
  function appendChildren(box, list, from) {
    let kids = list.filter(visible);
    if (prefix) kids = kids.slice().sort((a, b) => hits(b) - hits(a) || a - b);
    const end = Math.min(kids.length, from + CHILD_PAGE);
    for (let n = from; n < end; n++) box.appendChild(nodeElement(kids[n]));
    if (end < kids.length) {
      const more = el("div", { class: "more", text: `Show ${fmt(Math.min(CHILD_PAGE, kids.length - end))} more of ${fmt(kids.length - end)}` });
      more.addEventListener("click", (event) => {
        event.stopPropagation();
        more.remove();
        appendChildren(box, list, end);
      });
      box.appendChild(more);
    }
  }
  function renderTree() {
    const tree = $("tree");
    tree.textContent = "";
    if (!nNodes) {
      tree.appendChild(el("p", { class: "muted", text: "No clusters in this partition." }));
      return;
    }
    appendChildren(tree, roots, 0);
    if (!tree.childElementCount) tree.appendChild(el("p", { class: "muted", text: "Nothing matches." }));
  }
  function setupTree() {
    $("tree").addEventListener("click", (event) => {
      const row = event.target.closest(".node-row");
      if (!row) return;
      const i = Number(row.getAttribute("data-node"));
      if (event.target.classList.contains("toggle") && !isLeaf(i)) {
        if (isExpanded(i)) {
          state.expanded.delete(i);
          autoExpanded.delete(i);
        } else state.expanded.add(i);
        renderTree();
        return;
      }
      select(i, false);
    });
  }
  function select(i, scrollTree, focusConversation) {
    state.selected = i;
    state.focus = focusConversation === undefined ? -1 : focusConversation;
    for (let p = C.parent[i]; p >= 0; p = C.parent[p]) state.expanded.add(p);
    if (!isLeaf(i)) state.expanded.add(i);
    renderTree();
    const row = document.querySelector(`.node-row[data-node="${i}"]`);
    if (row && scrollTree) row.scrollIntoView({ block: "nearest" });
    renderDetails();
    scheduleDraw();
  }

  // ---------- details of the selected cluster ----------
  function bars(rows, total) {
    const box = el("div");
    const max = rows.length ? rows[0][1] : 1;
    for (const [label, count] of rows) {
      box.appendChild(el("div", { class: "bar" }, [
        el("span", { class: "label", text: label, title: label }),
        el("div", {}, [el("div", { class: "fill", style: `width:${(100 * count / max).toFixed(1)}%` })]),
        el("span", { class: "value", text: `${fmt(count)} · ${total ? ((100 * count) / total).toFixed(0) : 0}%` }),
      ]));
    }
    return box;
  }
  function scoreSection(facet, from, to, title) {
    const counts = [0, 0, 0, 0, 0];
    let sum = 0;
    let n = 0;
    for (let k = from; k < to; k++) {
      if (mask && !mask[k]) continue;
      const c = facet.code(k);
      if (c >= 0) {
        counts[c]++;
        sum += c + 1;
        n++;
      }
    }
    const section = el("div", { class: "score", "data-facet": facet.key });
    section.appendChild(el("h3", { text: `${title}: mean ${n ? (sum / n).toFixed(2) : "–"}` }));
    section.appendChild(bars(counts.map((count, c) => [String(c + 1), count]), n));
    return section;
  }
  function renderDetails() {
    const i = state.selected;
    const box = $("details");
    box.textContent = "";
    if (i < 0) return;
    const from = C.start[i];
    const to = C.end[i];
    const inView = hits(i);
    const crumbs = el("div", { class: "crumbs" });
    const path = [];
    for (let p = C.parent[i]; p >= 0; p = C.parent[p]) path.unshift(p);
    crumbs.appendChild(el("a", { text: "All", onclick: () => {
      state.selected = -1;
      renderTree();
      box.textContent = "";
      box.appendChild(el("p", { class: "muted", text: "Click a topic in the tree or on the map to see its details." }));
      scheduleDraw();
    } }));
    for (const p of path) {
      crumbs.appendChild(document.createTextNode(" › "));
      crumbs.appendChild(el("a", { text: C.name[p], onclick: () => select(p, true) }));
    }
    box.appendChild(crumbs);
    box.appendChild(el("h2", { id: "detail-name", text: C.name[i] || "(unnamed)" }));
    box.appendChild(el("p", { id: "detail-description", text: C.description[i] }));
    const total = DATA.totals.clustered || 1;
    box.appendChild(el("div", { class: "stat-grid" }, [
      el("span", { class: "muted", text: "Conversations" }),
      el("span", { id: "detail-count", text: `${fmt(C.count[i])} (${((100 * C.count[i]) / total).toFixed(1)}% of all)` }),
      mask ? el("span", { class: "muted", text: "Matching" }) : null,
      mask ? el("span", { text: fmt(inView) }) : null,
      el("span", { class: "muted", text: "Level" }), el("span", { text: String(C.depth[i]) }),
      el("span", { class: "muted", text: "Sub-topics" }), el("span", { text: fmt(children[i].length) }),
      el("span", { class: "muted", text: "Cluster id" }), el("span", { text: C.id[i] }),
    ]));
    // Conversations of groups hidden by the privacy thresholds are counted, never listed.
    const notShown = C.count[i] - (to - from);
    if (DATA.totals.hidden && notShown > 0) {
      box.appendChild(el("p", { class: "muted", id: "detail-hidden",
        text: `${fmt(notShown)} of its conversations are in groups below the privacy thresholds and are not shown.` }));
    }
    const scope = mask ? `${fmt(inView)} matching conversations` : `${fmt(to - from)} conversations`;
    box.appendChild(el("h3", { text: `Languages (of ${scope})` }));
    const language = facetByKey.get("language");
    box.appendChild(bars(valueCounts(language, from, to, mask).slice(0, 8).map(([c, n]) => [language.values[c], n]), inView));
    box.appendChild(scoreSection(facetByKey.get("frustration"), from, to, "User frustration"));
    box.appendChild(scoreSection(facetByKey.get("concern"), from, to, "Concerning score"));
    for (const facet of FACETS) {
      if (facet.kind !== "cat" || facet.key === "topic") continue;
      box.appendChild(el("h3", { text: facet.label }));
      box.appendChild(bars(valueCounts(facet, from, to, mask).slice(0, 5).map(([c, n]) => [facet.values[c], n]), inView));
    }
    if (children[i].length) {
      box.appendChild(el("h3", { text: `Sub-topics (${children[i].length})` }));
      const list = el("div");
      for (const kid of children[i].filter(visible).slice(0, 100)) {
        list.appendChild(el("div", {}, [
          el("span", { class: "link", text: C.name[kid], onclick: () => select(kid, true) }),
          el("span", { class: "muted", text: ` ${fmt(prefix ? hits(kid) : C.count[kid])}` }),
        ]));
      }
      box.appendChild(list);
    }
    box.appendChild(el("h3", { text: `Conversations (${fmt(inView)})` }));
    const members = el("div", { id: "members" });
    box.appendChild(members);
    let next = from;
    const more = el("button", { type: "button", text: "Show more" });
    function page(until) {
      let shown = 0;
      while (next < to && (shown < PAGE || next <= until)) {
        if (!mask || mask[next]) {
          members.appendChild(memberElement(next));
          shown++;
        }
        next++;
      }
      if (next >= to) more.remove();
    }
    more.addEventListener("click", () => page(-1));
    box.appendChild(more);
    page(state.focus);
    if (state.focus >= 0) {
      const focused = members.querySelector(`[data-conversation="${state.focus}"]`);
      if (focused) focused.scrollIntoView({ block: "nearest" });
    }
  }
  function memberElement(k) {
    const languages = V.languages.codes[k].map((c) => V.languages.values[c]).join(", ");
    const f = V.frustration.charCodeAt(k) - 48;
    const c = V.concern.charCodeAt(k) - 48;
    const item = el("div", { class: "member" + (k === state.focus ? " focus" : ""), "data-conversation": k }, [
      el("div", { class: "summary", text: V.summary[k] || "(no summary)" }),
      el("div", { class: "meta", text: `${V.id[k]} · frustration ${f || "–"} · concern ${c || "–"}${languages ? " · " + languages : ""}` }),
    ]);
    if (V.messages) {
      const toggle = el("span", { class: "link", text: `Show ${V.messages[k].length} messages` });
      toggle.addEventListener("click", () => {
        toggle.remove();
        const box = el("div", { class: "messages" });
        for (const [role, content] of V.messages[k]) {
          box.appendChild(el("div", { class: "message" }, [el("span", { class: "role", text: role + ":" }), document.createTextNode(content)]));
        }
        item.appendChild(box);
      });
      item.appendChild(toggle);
    }
    return item;
  }

  // ---------- the map: conversations around their leaf, leaves as bubbles ----------
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const nodeX = new Float64Array(nNodes);
  const nodeY = new Float64Array(nNodes);
  const radius = new Float64Array(nNodes);
  const px = new Float32Array(nConv);
  const py = new Float32Array(nConv);
  let baseR = 1;
  const bounds = { x0: 0, x1: 1, y0: 0, y1: 1 };
  const view = { cx: 0.5, cy: 0.5, scale: 1, width: 1, height: 1 };
  let grid = new Map();
  let buckets = []; // [colour, Int32Array of conversation indices]
  let legendRows = [];

  function layout() {
    // A node without coordinates sits at its parent's place (or the origin): the map shows what the table holds.
    for (let i = 0; i < nNodes; i++) {
      const p = C.parent[i];
      nodeX[i] = C.x[i] !== null ? C.x[i] : p >= 0 ? nodeX[p] : 0;
      nodeY[i] = C.y[i] !== null ? C.y[i] : p >= 0 ? nodeY[p] : 0;
    }
    const leaves = [];
    for (let i = 0; i < nNodes; i++) if (isLeaf(i)) leaves.push(i);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, sum = 0;
    for (const i of leaves) {
      x0 = Math.min(x0, nodeX[i]); x1 = Math.max(x1, nodeX[i]);
      y0 = Math.min(y0, nodeY[i]); y1 = Math.max(y1, nodeY[i]);
      sum += Math.max(1, C.count[i]);
    }
    if (!leaves.length) { x0 = y0 = 0; x1 = y1 = 1; }
    const span = Math.max(x1 - x0, y1 - y0, 1e-6);
    baseR = (0.5 * span) / Math.sqrt(Math.max(1, leaves.length));
    const mean = leaves.length ? sum / leaves.length : 1;
    for (let i = 0; i < nNodes; i++) {
      const r = baseR * Math.sqrt(Math.max(1, C.count[i]) / mean);
      radius[i] = isLeaf(i) ? Math.min(Math.max(r, 0.35 * baseR), 2.5 * baseR) : r;
    }
    // Sunflower (Vogel) spiral inside each leaf's disc: deterministic, even, no overlaps within a leaf.
    const golden = Math.PI * (3 - Math.sqrt(5));
    for (const i of leaves) {
      const n = C.end[i] - C.start[i];
      for (let j = 0; j < n; j++) {
        const k = C.start[i] + j;
        const r = 0.9 * radius[i] * Math.sqrt((j + 0.5) / n);
        px[k] = nodeX[i] + r * Math.cos(j * golden);
        py[k] = nodeY[i] + r * Math.sin(j * golden);
      }
    }
    const pad = 2.5 * baseR;
    Object.assign(bounds, { x0: x0 - pad, x1: x1 + pad, y0: y0 - pad, y1: y1 + pad });
    grid = new Map();
    for (let k = 0; k < nConv; k++) {
      const key = Math.floor(px[k] / baseR) + ":" + Math.floor(py[k] / baseR);
      let cell = grid.get(key);
      if (!cell) grid.set(key, (cell = []));
      cell.push(k);
    }
  }
  function fit() {
    view.cx = (bounds.x0 + bounds.x1) / 2;
    view.cy = (bounds.y0 + bounds.y1) / 2;
    view.scale = Math.min(view.width / (bounds.x1 - bounds.x0), view.height / (bounds.y1 - bounds.y0));
  }
  const sx = (x) => view.width / 2 + (x - view.cx) * view.scale;
  const sy = (y) => view.height / 2 - (y - view.cy) * view.scale;
  const dx = (x) => view.cx + (x - view.width / 2) / view.scale;
  const dy = (y) => view.cy - (y - view.height / 2) / view.scale;

  function colourScheme() {
    const facet = facetByKey.get(state.colourBy) || FACETS[0];
    if (facet.kind === "score") return { facet, colours: SCORE_COLOURS.slice(), labels: facet.values.slice() };
    const top = valueCounts(facet, 0, nConv, null).slice(0, PALETTE.length - 1);
    const map = new Map(top.map(([c], n) => [c, n]));
    const colours = top.map((_, n) => PALETTE[n]);
    const labels = top.map(([c]) => facet.values[c]);
    return { facet, colours, labels, map };
  }
  function rebuildBuckets() {
    const scheme = colourScheme();
    const { facet, colours } = scheme;
    const groups = colours.map(() => []);
    const other = [];
    for (let k = 0; k < nConv; k++) {
      const code = facet.code(k);
      const slot = scheme.map ? (scheme.map.has(code) ? scheme.map.get(code) : -1) : code;
      (slot >= 0 ? groups[slot] : other).push(k);
    }
    buckets = groups.map((g, n) => [colours[n], Int32Array.from(g)]);
    if (other.length) buckets.unshift([OTHER_COLOUR, Int32Array.from(other)]);
    legendRows = colours.map((colour, n) => [colour, scheme.labels[n], groups[n].length]);
    if (other.length) legendRows.push([OTHER_COLOUR, facet.kind === "score" ? "missing" : "other / none", other.length]);
  }
  function renderLegend() {
    const legend = $("legend");
    legend.textContent = "";
    for (const [colour, label, count] of legendRows) {
      legend.appendChild(el("span", {}, [el("span", { class: "swatch", style: `background:${colour}` }),
        el("span", { text: `${label} (${fmt(count)})` })]));
    }
  }

  let drawQueued = false;
  function scheduleDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      draw();
    });
  }
  function resize() {
    const rect = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const first = view.width === 1;
    view.width = Math.max(1, rect.width);
    view.height = Math.max(1, rect.height);
    canvas.width = Math.round(view.width * ratio);
    canvas.height = Math.round(view.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (first) fit();
    scheduleDraw();
  }
  function draw() {
    const started = performance.now();
    drawPoints();
    timings.draw = performance.now() - started;
  }
  function drawPoints() {
    ctx.clearRect(0, 0, view.width, view.height);
    if (!nNodes) {
      ctx.fillStyle = "#667085";
      ctx.fillText("No clusters in this partition.", 20, 30);
      return;
    }
    const size = Math.max(1.5, Math.min(5, baseR * view.scale * 0.12));
    const half = size / 2;
    const W = view.width;
    const H = view.height;
    const plot = (k) => {
      const x = sx(px[k]);
      const y = sy(py[k]);
      if (x >= -size && x <= W + size && y >= -size && y <= H + size) ctx.fillRect(x - half, y - half, size, size);
    };
    if (mask) {
      ctx.fillStyle = DIM_COLOUR;
      for (let k = 0; k < nConv; k++) if (!mask[k]) plot(k);
    }
    for (const [colour, members] of buckets) {
      ctx.fillStyle = colour;
      for (let n = 0; n < members.length; n++) if (!mask || mask[members[n]]) plot(members[n]);
    }
    // Leaf bubbles, then the selection and the hovered leaf on top.
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(60, 70, 90, 0.25)";
    ctx.beginPath();
    for (let i = 0; i < nNodes; i++) {
      if (!isLeaf(i) || !visible(i)) continue;
      const r = radius[i] * view.scale;
      const x = sx(nodeX[i]);
      const y = sy(nodeY[i]);
      if (r < 2 || x + r < 0 || x - r > W || y + r < 0 || y - r > H) continue;
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
    }
    ctx.stroke();
    if (state.selected >= 0) outline(state.selected, "#1d4ed8", 2.5);
    if (state.hover >= 0) outline(state.hover, "#111827", 1.5);
    labels();
  }
  function outline(i, colour, width) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.beginPath();
    for (let j = i; j <= lastDescendant[i]; j++) {
      if (!isLeaf(j)) continue;
      const r = Math.max(3, radius[j] * view.scale);
      ctx.moveTo(sx(nodeX[j]) + r, sy(nodeY[j]));
      ctx.arc(sx(nodeX[j]), sy(nodeY[j]), r, 0, 2 * Math.PI);
    }
    ctx.stroke();
  }
  function label(text, x, y, bold) {
    ctx.font = `${bold ? "600 " : ""}12px system-ui, sans-serif`;
    const shown = text.length > 48 ? text.slice(0, 47) + "…" : text;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.strokeText(shown, x, y);
    ctx.fillStyle = "#111827";
    ctx.fillText(shown, x, y);
  }
  function labels() {
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const zoomedIn = baseR * view.scale > 45;
    for (let i = 0; i < nNodes; i++) {
      const isRoot = C.parent[i] < 0;
      if (!(isRoot || (zoomedIn && isLeaf(i)) || i === state.selected) || !visible(i)) continue;
      const x = sx(nodeX[i]);
      const y = sy(nodeY[i]);
      if (x < -50 || x > view.width + 50 || y < -20 || y > view.height + 20) continue;
      label(C.name[i], x, y, isRoot || i === state.selected);
    }
  }

  function pointAt(mx, my) {
    const x = dx(mx);
    const y = dy(my);
    const gx = Math.floor(x / baseR);
    const gy = Math.floor(y / baseR);
    let best = -1;
    let bestDistance = 36; // within 6 px
    for (let ix = gx - 1; ix <= gx + 1; ix++) {
      for (let iy = gy - 1; iy <= gy + 1; iy++) {
        const cell = grid.get(ix + ":" + iy);
        if (!cell) continue;
        for (const k of cell) {
          if (mask && !mask[k]) continue;
          const ddx = sx(px[k]) - mx;
          const ddy = sy(py[k]) - my;
          const d = ddx * ddx + ddy * ddy;
          if (d < bestDistance) { bestDistance = d; best = k; }
        }
      }
    }
    return best;
  }
  function leafAt(mx, my) {
    let best = -1;
    let bestRadius = Infinity;
    for (let i = 0; i < nNodes; i++) {
      if (!isLeaf(i) || !visible(i)) continue;
      const r = Math.max(3, radius[i] * view.scale);
      const ddx = sx(nodeX[i]) - mx;
      const ddy = sy(nodeY[i]) - my;
      if (ddx * ddx + ddy * ddy <= r * r && r < bestRadius) { best = i; bestRadius = r; }
    }
    return best;
  }
  function showTooltip(mx, my, lines) {
    const tip = $("tooltip");
    tip.textContent = "";
    lines.filter(Boolean).forEach((line, n) => tip.appendChild(el("div", { text: line, style: n === 0 ? "font-weight:600" : null })));
    tip.hidden = false;
    const x = Math.min(mx + 14, view.width - tip.offsetWidth - 4);
    const y = Math.min(my + 14, view.height - tip.offsetHeight - 4);
    tip.style.left = Math.max(0, x) + "px";
    tip.style.top = Math.max(0, y) + "px";
  }
  function setupMap() {
    let drag = null;
    const position = (event) => {
      const rect = canvas.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const [mx, my] = position(event);
      zoomAt(mx, my, Math.exp(-event.deltaY * 0.0015));
    }, { passive: false });
    canvas.addEventListener("mousedown", (event) => {
      const [mx, my] = position(event);
      drag = { mx, my, cx: view.cx, cy: view.cy, moved: false };
      canvas.classList.add("dragging");
    });
    window.addEventListener("mouseup", (event) => {
      if (!drag) return;
      canvas.classList.remove("dragging");
      const clicked = !drag.moved;
      drag = null;
      if (clicked && event.target === canvas) {
        const [mx, my] = position(event);
        const k = pointAt(mx, my);
        if (k >= 0 && leafOf[k] >= 0) select(leafOf[k], true, k);
        else {
          const i = leafAt(mx, my);
          if (i >= 0) select(i, true);
        }
      }
    });
    canvas.addEventListener("mousemove", (event) => {
      const [mx, my] = position(event);
      if (drag) {
        if (Math.abs(mx - drag.mx) + Math.abs(my - drag.my) > 3) drag.moved = true;
        view.cx = drag.cx - (mx - drag.mx) / view.scale;
        view.cy = drag.cy + (my - drag.my) / view.scale;
        $("tooltip").hidden = true;
        scheduleDraw();
        return;
      }
      const k = pointAt(mx, my);
      const leaf = k >= 0 ? leafOf[k] : leafAt(mx, my);
      if (leaf !== state.hover) { state.hover = leaf; scheduleDraw(); }
      if (k >= 0) {
        showTooltip(mx, my, [C.name[leaf], V.summary[k] || "(no summary)", V.id[k]]);
      } else if (leaf >= 0) {
        const root = rootOf[leaf];
        showTooltip(mx, my, [C.name[leaf], `${fmt(C.count[leaf])} conversations`, root !== leaf ? `in ${C.name[root]}` : ""]);
      } else $("tooltip").hidden = true;
    });
    canvas.addEventListener("mouseleave", () => {
      $("tooltip").hidden = true;
      if (state.hover >= 0) { state.hover = -1; scheduleDraw(); }
    });
    $("zoom-in").addEventListener("click", () => zoomAt(view.width / 2, view.height / 2, 1.5));
    $("zoom-out").addEventListener("click", () => zoomAt(view.width / 2, view.height / 2, 1 / 1.5));
    $("zoom-reset").addEventListener("click", () => { fit(); scheduleDraw(); });
    new ResizeObserver(resize).observe(canvas);
  }
  function zoomAt(mx, my, factor) {
    const x = dx(mx);
    const y = dy(my);
    view.scale = Math.min(Math.max(view.scale * factor, 1e-6), 1e9);
    view.cx = x - (mx - view.width / 2) / view.scale;
    view.cy = y + (my - view.height / 2) / view.scale;
    scheduleDraw();
  }

  // ---------- topics over time ----------
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const key of Object.keys(attrs || {})) node.setAttribute(key, String(attrs[key]));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function topicColour(topic, n) {
    if (topic.id === "other" || topic.id === "unassigned" || topic.id === "hidden") return OTHER_COLOUR;
    const i = indexOfId.get(topic.id);
    if (i !== undefined) return PALETTE[rootIndex.get(rootOf[i]) % PALETTE.length]; // its top-level topic's colour
    return PALETTE[n % PALETTE.length];
  }
  function renderTrends() {
    const body = $("trends-body");
    body.textContent = "";
    const trends = DATA.trends;
    if (!trends || !trends.topics.length) {
      body.appendChild(el("p", { class: "muted", text: "No topic trends for this partition yet: materialise the " +
        "taxonomy and topic_trends assets (kura-dagster run) to follow the dataset's topics over the days before it." }));
      return;
    }
    const days = trends.days;
    const W = 900, H = 280, left = 48, right = 16, top = 12, bottom = 30;
    let max = 0.05;
    for (const t of trends.topics) for (const s of t.shares) if (s !== null) max = Math.max(max, s);
    max = Math.min(1, max);
    const X = (d) => left + (days.length > 1 ? (d * (W - left - right)) / (days.length - 1) : (W - left - right) / 2);
    const Y = (s) => top + (1 - s / max) * (H - top - bottom);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Daily share of each topic" });
    const step = max <= 0.1 ? 0.02 : max <= 0.3 ? 0.05 : 0.1;
    max = Math.ceil(max / step - 1e-9) * step;
    for (let s = 0; s <= max + 1e-9; s += step) {
      chart.appendChild(svg("line", { x1: left, x2: W - right, y1: Y(s), y2: Y(s), stroke: "#e3e5ea" }));
      chart.appendChild(svg("text", { x: left - 6, y: Y(s) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" }, `${Math.round(s * 100)}%`));
    }
    days.forEach((day, d) => chart.appendChild(svg("text", { x: X(d), y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#667085" }, day.slice(5))));
    trends.topics.forEach((topic, n) => {
      const colour = topicColour(topic, n);
      let path = "";
      topic.shares.forEach((s, d) => { if (s !== null) path += `${path ? "L" : "M"}${X(d).toFixed(1)},${Y(s).toFixed(1)}`; });
      const group = svg("g", { class: "trend-line", "data-topic": topic.id });
      group.appendChild(svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": topic.status === "steady" ? 1.5 : 2.5,
        "stroke-dasharray": ["other", "unassigned", "hidden"].includes(topic.id) ? "4 3" : "none" }));
      topic.shares.forEach((s, d) => {
        if (s === null) return;
        const dot = svg("circle", { cx: X(d), cy: Y(s), r: 3, fill: colour });
        dot.appendChild(svg("title", {}, `${topic.name}\n${days[d]}: ${fmt(topic.counts[d])} conversations, ${pct(s)}`));
        group.appendChild(dot);
      });
      chart.appendChild(group);
    });
    body.appendChild(chart);
    body.appendChild(trendTable(trends.topics, "Topic"));
    if (trends.subtopics && trends.subtopics.length) {
      body.appendChild(el("h3", { text: "Sub-topics flagged on this day" }));
      body.appendChild(trendTable(trends.subtopics, "Sub-topic (level " + (trends.level + 1) + " and below)"));
    } else {
      body.appendChild(el("p", { class: "muted", text: "No finer sub-topic is new, emerging, fading or gone." }));
    }
    if (trends.lineage && trends.lineage.length) {
      body.appendChild(el("h3", { text: "Changes in this taxonomy version" }));
      const list = el("ul", { class: "lineage" });
      for (const e of trends.lineage) {
        const other = topicLabel(e.related_id, e.related_name);
        const related = e.related_id ? (e.event === "split" ? ` from ${other}` : e.event === "merged" ? ` into ${other}` : ` (${other})`) : "";
        const was = e.previous_name ? ` (was “${e.previous_name}”)` : "";
        list.appendChild(el("li", { text: `${topicLabel(e.id, e.name)}: ${e.event}${related}${was}` }));
      }
      body.appendChild(list);
    }
    body.appendChild(el("p", { class: "muted", text: `The dataset's taxonomy (topics that keep their id from day ` +
      `to day), each day's conversations assigned to its nearest topic, ${days[0]} to ${days[days.length - 1]}. ` +
      `Recent = the last days of the window, earlier = the days before; flagged when the change in share is ` +
      `significant and large. “unassigned” holds conversations far from every topic, “hidden” the topics below ` +
      `the privacy thresholds; neither is flagged.` }));
  }
  // A topic of the lineage by name and id ("Order tracking (t00022)"); the id alone when the window's
  // trends never named it (a topic hidden by the privacy thresholds).
  function topicLabel(id, name) {
    return name && name !== id ? `${name} (${id})` : id;
  }
  function trendTable(list, heading) {
    const table = el("table", { class: "trend-table" });
    table.appendChild(el("tr", {}, ["", heading, "Trend", "Change", "Recent share", "Earlier share", "Conversations in the window"].map((h) => el("th", { text: h }))));
    list.forEach((topic, n) => {
      const i = indexOfId.get(topic.id);
      const name = i !== undefined ? el("span", { class: "link", text: topic.name, onclick: () => select(i, true) }) : el("span", { text: topic.name });
      const arrow = topic.status === "emerging" ? "▲ emerging" : topic.status === "fading" ? "▼ fading" : topic.status.replace("_", " ");
      const change = topic.event ? topic.event + (topic.related_id ? ` (${topicLabel(topic.related_id, topic.related_name)})` : "") : "";
      table.appendChild(el("tr", { "data-status": topic.status }, [
        el("td", {}, [el("span", { class: "swatch", style: `background:${topicColour(topic, n)}` })]),
        el("td", {}, [name]),
        el("td", {}, [el("span", { class: "badge " + topic.status, text: arrow })]),
        el("td", { text: change }),
        el("td", { class: "num", text: pct(topic.recent_share) }),
        el("td", { class: "num", text: pct(topic.baseline_share) }),
        el("td", { class: "num", text: fmt(topic.counts.reduce((a, b) => a + b, 0)) }),
      ]));
    });
    return table;
  }

  // ---------- start ----------
  renderHeader();
  setupControls();
  setupTree();
  layout();
  rebuildBuckets();
  renderLegend();
  renderStatus();
  renderTree();
  setupMap();
  renderTrends();
  resize();
  // For scripted use (and the browser test): where a node is drawn, in canvas pixels.
  window.kuraExplorer = {
    ready: true, select, state, timings, data: DATA,
    screenPosition: (i) => [sx(nodeX[i]), sy(nodeY[i])],
    search: (q) => { $("search").value = q; state.query = q; recompute(); },
  };
})();
