// The graph explorer's page: hover, collapse, search, and the backward-pass stepper.
// Everything it shows comes from the JSON in #tg-data (written by viz/explorer.py); the
// drawing is Graphviz's SVG, whose nodes, arrows and frames carry ids n_*, e_*, c_*.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("tg-data").textContent);
  const svg = document.querySelector("#canvas svg");
  const NS = svg.namespaceURI;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

  // ------------------------------------------------------------ the drawing's elements
  const nodeEl = {};              // scene node id -> <g class="node">
  for (const [id, n] of Object.entries(D.nodes)) {
    const el = document.getElementById("n_" + n.dot);
    if (el) { nodeEl[id] = el; el.dataset.node = id; }
  }
  const edgeEls = [];             // [element, from node, to node]
  for (const [src, dst, dotId] of D.edges) {
    const el = document.getElementById(dotId);
    if (el) edgeEls.push([el, src, dst]);
  }
  const clusterEl = {};
  for (const cid of Object.keys(D.clusters)) {
    const el = document.getElementById("c_" + cid);
    if (el) clusterEl[cid] = el;
  }

  // ------------------------------------------------------------ text helpers
  const shortNum = (v) => typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 &&
    Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4))) : String(v);
  function values(s) {
    if (!s) return "—";
    let out = "[" + s.first.map(shortNum).join(", ") + (s.n > s.first.length ? ", …" : "") +
      "]";
    if (s.min !== undefined) out += `<br>min ${shortNum(s.min)} · max ${shortNum(s.max)} · ` +
      `mean ${shortNum(s.mean)}`;
    return `<span class="num">${out}</span>`;
  }
  function tname(tid) {          // 'h (2, 4)', or for an unnamed tensor '(2, 4) from add'
    const t = D.tensors[tid];
    if (!t) return tid;
    if (t.name) return t.name + " " + t.shape;
    if (!t.made_by) return t.shape;
    const op = D.ops[t.made_by], src = D.tensors[op.inputs[0]];
    const views = {permute: "transposed", reshape: "reshaped", expand: "expanded",
                   getitem: "sliced", copy: "copied"};
    if (views[op.op] && src && src.name) return `${src.name} ${views[op.op]}, ${t.shape}`;
    return t.shape + " from " + op.op;
  }
  const where = (scope, step) => (scope ? esc(scope) : "—") +
    (step !== null && step !== undefined ? ` (time step ${step})` : "");
  const L = D.loss;

  function tensorInfo(tid) {
    const t = D.tensors[tid];
    const owner = t.role === "parameter" && t.name.includes(".") ?
      "module " + esc(t.name.slice(0, t.name.lastIndexOf("."))) : null;
    const rows = [
      ["role", esc(t.role)], ["shape", esc(t.shape) + " " + esc(t.dtype)],
      ["module / step", owner || where(t.scope, t.step)],
    ];
    if (t.view_of) rows.push(["view of", `${esc(t.view_of)} ${esc(t.base_shape)} (a view ` +
      "made without gradient, not recorded)"]);
    rows.push(["values", t.freed ? "freed by backward() (pass retain_graph=True to keep them)"
      : values(t.values)]);
    let g = "—";
    const grad = gradOf(tid);
    if (grad) g = `‖∂${esc(L)}/∂·‖ = <b>${shortNum(grad.norm)}</b>` +
      (grad.first ? "<br>" + values(grad) : "");
    rows.push([`gradient ∂${esc(L)}/∂·`, g]);
    if (t.made_by) rows.push(["made by", opLink(t.made_by)]);
    if (t.read_by.length) rows.push(["read by", t.read_by.map(opLink).join(", ")]);
    let html = `<h3>${esc(t.name || "(unnamed tensor)")}</h3><div class="kind">tensor ${tid}` +
      `</div><table>${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join("")}` +
      "</table>";
    if (t.made_by) html += opFormula(t.made_by);
    return html;
  }
  const opLink = (oid) => esc(D.ops[oid].op);
  function opFormula(oid) {
    const op = D.ops[oid];
    let html = `<h3>op ${esc(op.op)}${op.fused ? " (fused)" : ""}</h3>` +
      `<div class="kind">${where(op.scope, op.step)}</div>`;
    if (op.formula) html += `<pre>${esc(op.formula)}</pre>`;
    const saved = op.saved === null ? "freed by backward()" : op.saved.length ?
      op.saved.map((s) => s === "output" ? "its output" : esc(tname(s))).join(", ") :
      "nothing";
    html += `<div>saved for backward: ${saved}</div>`;
    html += `<div>reads: ${op.inputs.map((i) => esc(tname(i))).join(", ")}</div>`;
    return html;
  }
  function nodeInfo(id) {
    const n = D.nodes[id];
    if (!n) return "";
    const ts = n.members.filter((m) => D.tensors[m]);
    const os = n.members.filter((m) => D.ops[m]);
    if (n.kind === "tensor" && ts.length) return tensorInfo(ts[0]);
    if (n.kind === "op" && os.length === 1) {
      const out = D.ops[os[0]].output;
      return opFormula(os[0]) + "<h3>its output</h3>" + tensorInfo(out);
    }
    let html = `<h3>${esc(n.text)}</h3><div class="kind">${esc(n.kind)}: ` +
      `${os.length} ops, ${ts.length} tensors</div>`;
    const out = ts.filter((m) => gradOf(m)).slice(-1)[0] || ts.slice(-1)[0];
    if (out) html += "<h3>its last tensor</h3>" + tensorInfo(out);
    return html;
  }

  // ------------------------------------------------------------ hover and click
  const info = $("info");
  let pinned = null;
  function show(id) { info.innerHTML = nodeInfo(id); }
  for (const [id, el] of Object.entries(nodeEl)) {
    el.addEventListener("mouseenter", () => {
      el.classList.add("hover");
      if (!pinned) show(id);
    });
    el.addEventListener("mouseleave", () => el.classList.remove("hover"));
    el.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (pinned) nodeEl[pinned].classList.remove("pinned");
      pinned = pinned === id ? null : id;
      if (pinned) { el.classList.add("pinned"); show(id); }
    });
  }

  // ------------------------------------------------------------ collapse and expand
  const collapsed = new Set();
  const placeholders = {};
  const groupItems = {};
  function membersOf(cid) {
    return Object.keys(nodeEl).filter((id) => D.nodes[id].clusters.includes(cid));
  }
  function opCount(cid) {
    let n = 0;
    for (const id of membersOf(cid)) n += D.nodes[id].members.filter((m) => D.ops[m]).length;
    return n;
  }
  function hiddenNode(id) {
    return D.nodes[id].clusters.some((c) => collapsed.has(c));
  }
  function refresh() {
    for (const [id, el] of Object.entries(nodeEl)) el.classList.toggle("hidden", hiddenNode(id));
    for (const [el, s, d] of edgeEls) {
      const hs = nodeEl[s] ? hiddenNode(s) : false, hd = nodeEl[d] ? hiddenNode(d) : false;
      el.classList.toggle("hidden", hs && hd);
    }
    for (const [cid, el] of Object.entries(clusterEl)) {
      const inside = D.clusters[cid].parent && ancestors(cid).some((c) => collapsed.has(c));
      el.classList.toggle("hidden", collapsed.has(cid) || inside);
      if (placeholders[cid]) placeholders[cid].classList.toggle("hidden",
        !collapsed.has(cid) || inside);
      if (groupItems[cid]) groupItems[cid].classList.toggle("collapsed", collapsed.has(cid));
    }
  }
  function ancestors(cid) {
    const out = [];
    let c = D.clusters[cid].parent;
    while (c) { out.push(c); c = D.clusters[c] ? D.clusters[c].parent : null; }
    return out;
  }
  function placeholder(cid) {
    const el = clusterEl[cid];
    const box = el.getBBox();
    const g = document.createElementNS(NS, "g");
    g.setAttribute("class", "placeholder-group");
    const r = document.createElementNS(NS, "rect");
    for (const [k, v] of [["x", box.x], ["y", box.y], ["width", box.width],
      ["height", box.height], ["rx", 8], ["class", "placeholder"]]) r.setAttribute(k, v);
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", box.x + 8);
    t.setAttribute("y", box.y + 20);
    t.setAttribute("class", "placeholder");
    t.textContent = `▸ ${D.clusters[cid].label} (${opCount(cid)} ops)`;
    g.appendChild(r);
    g.appendChild(t);
    g.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(cid); });
    el.parentNode.appendChild(g);
    placeholders[cid] = g;
  }
  function toggle(cid, state) {
    const on = state === undefined ? !collapsed.has(cid) : state;
    if (on) {
      if (!placeholders[cid]) placeholder(cid);
      collapsed.add(cid);
    } else collapsed.delete(cid);
    refresh();
  }
  const list = $("group-list");
  for (const [cid, c] of Object.entries(D.clusters)) {
    if (!clusterEl[cid]) continue;
    const li = document.createElement("li");
    li.textContent = c.label || cid;
    li.style.paddingLeft = 4 + 12 * ancestors(cid).length + "px";
    li.addEventListener("click", () => toggle(cid));
    list.appendChild(li);
    groupItems[cid] = li;
    const label = clusterEl[cid].querySelector("text");
    if (label) label.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(cid); });
  }
  if (!list.children.length) $("groups").classList.add("hidden");
  $("collapse-all").addEventListener("click", () => {
    for (const cid of Object.keys(groupItems)) if (!D.clusters[cid].parent) toggle(cid, true);
  });
  $("expand-all").addEventListener("click", () => {
    for (const cid of [...collapsed]) toggle(cid, false);
  });

  // ------------------------------------------------------------ search
  const search = $("search");
  let matches = [], matchAt = -1;
  function nodeText(id) {
    const n = D.nodes[id];
    let s = n.text + " ";
    for (const m of n.members) {
      const t = D.tensors[m], o = D.ops[m];
      if (t) s += `${t.name} ${t.shape} ${t.role} ${t.view_of || ""} `;
      if (o) s += `${o.op} ${o.scope || ""} `;
    }
    return s.toLowerCase();
  }
  const texts = Object.fromEntries(Object.keys(nodeEl).map((id) => [id, nodeText(id)]));
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    matches = q ? Object.keys(nodeEl).filter((id) => texts[id].includes(q)) : [];
    matchAt = -1;
    for (const [id, el] of Object.entries(nodeEl)) {
      el.classList.toggle("match", matches.includes(id));
      el.classList.toggle("dim", q !== "" && !matches.includes(id));
    }
    $("found").textContent = q ? `${matches.length} found` : "";
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && matches.length) {
      matchAt = (matchAt + 1) % matches.length;
      reveal(matches[matchAt]);
      show(matches[matchAt]);
    }
  });

  // ------------------------------------------------------------ zoom and scroll
  const natural = [svg.width.baseVal.value, svg.height.baseVal.value];
  let zoom = 1;
  function setZoom(z) {
    zoom = Math.max(0.05, Math.min(4, z));
    svg.setAttribute("width", natural[0] * zoom);
    svg.setAttribute("height", natural[1] * zoom);
  }
  function fit() {
    const c = $("canvas");
    setZoom(Math.min(1, (c.clientWidth - 4) / natural[0]));          // the width; scroll down
  }
  $("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  $("zoom-fit").addEventListener("click", fit);
  function reveal(id) {
    const el = nodeEl[id];
    if (!el) return;
    for (const c of D.nodes[id].clusters) if (collapsed.has(c)) toggle(c, false);
    const c = $("canvas"), r = el.getBoundingClientRect(), cr = c.getBoundingClientRect();
    c.scrollBy({left: r.left + r.width / 2 - (cr.left + c.clientWidth / 2),
                top: r.top + r.height / 2 - (cr.top + c.clientHeight / 2)});
  }

  // ------------------------------------------------------------ the backward stepper
  const S = D.steps;
  let at = -1;                          // -1: before the first step
  const gradSoFar = {};                 // tensor id -> {norm, k, n} after the current step
  function gradOf(tid) {
    if (at >= 0) {
      for (let i = at; i >= 0; i--) {
        if (S[i].t === tid) return S[i].grad;
        for (const c of S[i].passed) if (c.to === tid) {
          const visited = S.slice(0, at + 1).some((s) => s.t === tid);
          if (!visited) return {norm: c.total, first: null, partial: `${c.k} of ${c.n}`};
        }
      }
    }
    return D.tensors[tid].grad;
  }
  function boxOf(tid) { return D.tensors[tid] ? D.tensors[tid].box : null; }
  function clearMarks() {
    for (const el of Object.values(nodeEl))
      el.classList.remove("visiting", "receiving", "done");
    for (const [el] of edgeEls) el.classList.remove("flow");
  }
  function render() {
    clearMarks();
    const count = $("step-count"), text = $("step-text");
    if (!S.length) {
      count.textContent = "";
      text.innerHTML = `<span class="hint">${esc(D.message || "no backward steps")}</span>`;
      for (const b of ["first", "prev", "next", "last"]) $(b).disabled = true;
      return;
    }
    $("first").disabled = $("prev").disabled = at < 0;
    $("next").disabled = $("last").disabled = at >= S.length - 1;
    if (at < 0) {
      count.textContent = `${S.length} steps, in the order the engine ran them`;
      text.innerHTML = `<p>Press ▶ (or →) to start at the loss ${esc(L)}: its gradient ` +
        `∂${esc(L)}/∂${esc(L)} = 1. Each step visits one tensor, once every gradient ` +
        "for it has arrived, and its op sends a contribution to each of its inputs.</p>";
      return;
    }
    for (let i = 0; i < at; i++) {
      const b = boxOf(S[i].t);
      if (b && nodeEl[b]) nodeEl[b].classList.add("done");
    }
    const s = S[at];
    const here = boxOf(s.t);
    const madeBy = D.tensors[s.t].made_by;
    const opBox = madeBy ? D.ops[madeBy].box : null;
    for (const b of [here, opBox]) if (b && nodeEl[b]) {
      nodeEl[b].classList.remove("done");
      nodeEl[b].classList.add("visiting");
    }
    const targets = new Set();
    for (const c of s.passed) {
      const b = boxOf(c.to);
      if (b && nodeEl[b]) { nodeEl[b].classList.add("receiving"); targets.add(b); }
    }
    for (const [el, src, dst] of edgeEls) {
      if ((targets.has(src) && (dst === opBox || dst === here)) ||
          (src === opBox && dst === here)) el.classList.add("flow");
    }
    count.textContent = `step ${at + 1} of ${S.length}`;
    const t = D.tensors[s.t];
    let html = `<div class="what">visiting ${esc(t.name || "a tensor")} ${esc(t.shape)}` +
      `</div><div>${where(t.scope, t.step)}</div>` +
      `<div>received ∂${esc(L)}/∂· with ‖·‖ = <b>${shortNum(s.grad ? s.grad.norm : 0)}</b>` +
      `<br>${values(s.grad)}</div>`;
    if (madeBy) {
      const op = D.ops[madeBy];
      html += `<div>its op <b>${esc(op.op)}</b> passes on:</div><table>`;
      for (const c of s.passed) {
        const adds = c.n > 1 ? `<br><span class="adds">contribution ${c.k} of ${c.n}` +
          ` added: ‖total so far‖ = ${shortNum(c.total)}</span>` : "";
        html += `<tr><td>→ ${esc(tname(c.to))}</td><td>‖·‖ = ${shortNum(c.grad ?
          c.grad.norm : 0)}${adds}</td></tr>`;
      }
      html += "</table>";
      if (!s.passed.length) html += "<div class=hint>nothing (no input needs a gradient)</div>";
    }
    text.innerHTML = html;
    if (here) reveal(here);
    if (!pinned && here) show(here);
  }
  function go(i) { at = Math.max(-1, Math.min(S.length - 1, i)); render(); }
  $("first").addEventListener("click", () => go(-1));
  $("prev").addEventListener("click", () => go(at - 1));
  $("next").addEventListener("click", () => go(at + 1));
  $("last").addEventListener("click", () => go(S.length - 1));
  document.addEventListener("keydown", (ev) => {
    if (ev.target === search) return;
    if (ev.key === "ArrowRight") { go(at + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { go(at - 1); ev.preventDefault(); }
    else if (ev.key === "Home") go(-1);
    else if (ev.key === "End") go(S.length - 1);
    else if (ev.key === "+" || ev.key === "=") setZoom(zoom * 1.25);
    else if (ev.key === "-") setZoom(zoom / 1.25);
    else if (ev.key === "0") fit();
  });

  $("message").textContent = D.message || "";
  if (D.fused.length) $("message").textContent += (D.message ? " " : "") +
    `Drawn as recorded with the fast lane on: ${D.fused.join(", ")} is one fused node ` +
    "(its formula is on it); record under `with tg.fast(False):` for the plain ops.";
  render();
  fit();
  // for tests and for the curious: the state of the page
  window.tgExplorer = {data: D, go, toggle, at: () => at, collapsed: () => [...collapsed]};
})();
