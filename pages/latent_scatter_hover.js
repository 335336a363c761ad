// The Latent Scatter page's hover images (pages/4_Latent_Scatter.py reads this file and mounts it with
// st.components.v2.component, isolate_styles=False, so it runs in the app page itself).
// It finds the st.plotly_chart keyed `data.chart` (Streamlit gives a keyed element's container the class
// st-key-<key>), hooks its mouse events once per chart div (polling, so a re-created div is hooked again) and,
// with the mouse within Plotly's hover distance of a drawn held-out point, shows `data.images[its index]` with
// `data.captions[...]` in a floating panel (found in the mouse event itself: Plotly's hover events are throttled).
// `data.traces[curve][point]` maps a point without customdata back to its held-out index.
// A click on empty space (not a drag, not a double click, which Plotly keeps for zooming back) sends the trigger
// "pin": {x, y} on a plane (the map position whose code the hover decoded), {index} on t-SNE or UMAP (the nearest
// point, the one the hover showed). A click on a point is Plotly's: it selects the point.
// Streamlit calls this function again with each new `data` without calling the returned cleanup first, so the
// latest data lives in one shared place and only the last call's timer runs (older ones would hand the chart
// stale points and images).
export default function ({ data, parentElement, setTriggerValue }) {
  const doc = parentElement.ownerDocument || document;
  const state = doc.__sctHoverState || (doc.__sctHoverState = {});
  state.data = data;
  state.send = setTriggerValue;
  let panel = doc.getElementById("sct-hover-panel");
  if (!panel) {
    panel = doc.createElement("div");
    panel.id = "sct-hover-panel";
    panel.style.cssText = "position:fixed;z-index:100000;display:none;pointer-events:none;padding:6px;" +
      "border:1px solid rgba(128,128,128,.5);border-radius:6px;box-shadow:0 2px 10px rgba(0,0,0,.3);" +
      "font:12px sans-serif;text-align:center";
    panel.innerHTML = '<img alt="" style="display:block;margin:auto;image-rendering:pixelated">' +
      '<canvas data-sct-decoded data-frame="0" style="display:none;margin:auto;image-rendering:pixelated">' +
      '</canvas><div style="margin-top:4px;white-space:nowrap"></div>';
    doc.body.appendChild(panel);
  }
  const img = panel.querySelector("img"), caption = panel.querySelector("div");
  const canvas = panel.querySelector("canvas");
  const hide = () => { panel.style.display = "none"; };
  const place = (x, y) => {  // above the cursor (Plotly's own label sits beside the point), kept on screen
    if (x === undefined) return;
    const w = panel.offsetWidth, h = panel.offsetHeight, vw = doc.documentElement.clientWidth;
    const top = y - h - 18 >= 0 ? y - h - 18 : y + 18;
    panel.style.left = Math.max(4, Math.min(x - w / 2, vw - w - 4)) + "px";
    panel.style.top = top + "px";
  };
  const idOf = (d, pt) => {  // a Plotly point's held-out index (undefined: not a held-out point)
    let id = pt.customdata;
    if (Array.isArray(id)) id = id[0];
    if (id === undefined || id === null) id = ((d.traces || [])[pt.curveNumber] || [])[pt.pointNumber];
    return id;
  };
  const show = (gd, ev) => {
    const d = gd.__sctHover, pt = ev && ev.points && ev.points[0];
    if (!d || !pt) return hide();
    const id = idOf(d, pt);
    const src = id === undefined ? undefined : d.images[String(id)];
    if (!src) return hide();
    gd.__sctOnPoint = true;
    img.src = src;
    img.style.width = 2 * d.width + "px";
    img.style.display = "block";
    canvas.style.display = "none";
    caption.textContent = d.captions[String(id)] || "";
    const bg = getComputedStyle(gd.closest(".stApp") || doc.body);
    panel.style.background = bg.backgroundColor || "#fff";
    panel.style.color = bg.color || "#31333f";
    panel.style.display = "block";
    place(ev.event.clientX, ev.event.clientY);
  };
  // Empty space: the map position under the cursor. On a plane (raw 2-D codes, or the PCA plane: data.plane
  // {base, u, v}, code = base + x·u + y·v) its code is decoded here with the page's decoder (browser_decode's
  // loader, data.spec_id); on t-SNE or UMAP (data.projection names it), which have no inverse, the nearest drawn
  // held-out point is shown instead.
  const under = (gd, e) => {  // the mouse's pixel in the plot area and its map position; null outside it
    const fl = gd._fullLayout;
    if (!fl || !fl.xaxis || !fl._size) return null;
    const r = gd.getBoundingClientRect(), sz = fl._size;
    const px = e.clientX - r.left - sz.l, py = e.clientY - r.top - sz.t;
    if (px < 0 || py < 0 || px > sz.w || py > sz.h) return null;
    return { px, py, x: fl.xaxis.p2l(px), y: fl.yaxis.p2l(py) };
  };
  // The held-out point drawn nearest to the pixel (px, py), within `within` pixels (Infinity: any), as a Plotly
  // point; null when none. It scans the drawn points (2,000: well under a millisecond) in the mouse's own event,
  // so the picture never waits for Plotly's hover events, which Plotly throttles to one per 50 ms.
  const nearest = (gd, d, px, py, within) => {
    const fl = gd._fullLayout;
    let best = null, bestD = within * within;
    (gd._fullData || []).forEach((t, curve) => {
      if (!t.x || t.visible !== true) return;
      for (let i = 0; i < t.x.length; i++) {
        const dx = fl.xaxis.l2p(t.x[i]) - px, dy = fl.yaxis.l2p(t.y[i]) - py, dd = dx * dx + dy * dy;
        if (dd >= bestD) continue;
        const pt = { curveNumber: curve, pointNumber: i, customdata: (t.customdata || [])[i] }, id = idOf(d, pt);
        if (id !== undefined && id !== null && d.images[String(id)]) { bestD = dd; best = pt; }
      }
    });
    return best;
  };
  const reach = (gd) => {  // how near a point the mouse must be to be "on" it: Plotly's hover distance
    const h = gd._fullLayout.hoverdistance;
    return h > 0 ? h : 20;
  };
  const empty = (gd, e, at) => {
    const d = gd.__sctHover, { x, y } = at;
    if (d.plane && d.spec_id) {
      const ready = window.__aecoreDecode && window.__aecoreDecode.decoders.get(d.spec_id);
      if (!ready) return hide();
      ready.then((decode) => {
        if (gd.__sctOnPoint) return;
        const z = d.plane.base.map((b, j) => b + x * d.plane.u[j] + y * d.plane.v[j]);
        window.__aecoreDecode.paint(canvas, decode(z));  // browser_decode.js's, as the Slider's picture
        canvas.style.width = 2 * d.width + "px";
        canvas.style.display = "block";
        img.style.display = "none";
        canvas.dataset.z = JSON.stringify(z);
        canvas.dataset.frame = String(+canvas.dataset.frame + 1);
        caption.textContent = `decoded at (${x.toFixed(2)}, ${y.toFixed(2)})` + (d.plane.note || "");
        const bg = getComputedStyle(gd.closest(".stApp") || doc.body);
        panel.style.background = bg.backgroundColor || "#fff";
        panel.style.color = bg.color || "#31333f";
        panel.style.display = "block";
        place(e.clientX, e.clientY);
      }, hide);
      return;
    }
    // t-SNE, UMAP: the nearest drawn point (its own picture), said so.
    const best = nearest(gd, d, at.px, at.py, Infinity);
    if (!best) return hide();
    show(gd, { points: [best], event: e });
    gd.__sctOnPoint = false;
    caption.textContent = "nearest held-out point (" + (d.projection || "this map") + " has no inverse): " +
      caption.textContent;
  };
  const hook = () => {
    const d = state.data;
    const gd = doc.querySelector("." + CSS.escape("st-key-" + d.chart) + " .js-plotly-plot");
    if (!gd || typeof gd.on !== "function") return;
    gd.__sctHover = d;  // the latest points, read at hover time
    if (gd.__sctHooked) return;
    gd.__sctHooked = true;
    gd.addEventListener("mouseleave", () => { gd.__sctOnPoint = false; hide(); });
    gd.addEventListener("mousemove", (e) => {  // on a point: its picture; else the code there decoded
      const d = gd.__sctHover, at = under(gd, e);
      if (!d || !at) { gd.__sctOnPoint = false; return hide(); }
      const hit = nearest(gd, d, at.px, at.py, reach(gd));
      gd.__sctOnPoint = !!hit;
      if (hit) show(gd, { points: [hit], event: e });
      else empty(gd, e, at);
    });
    // Pin on a click on empty space: a press and release within a few pixels, not followed by a second click.
    gd.addEventListener("mousedown", (e) => { gd.__sctDown = [e.clientX, e.clientY]; }, true);
    gd.addEventListener("click", (e) => {
      const down = gd.__sctDown || [e.clientX, e.clientY];
      clearTimeout(gd.__sctPinTimer);
      if (e.detail > 1 || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4 || gd.__sctOnPoint) return;
      const d = gd.__sctHover, at = under(gd, e);
      if (!d || !at) return;
      gd.__sctPinTimer = setTimeout(() => {
        if (d.plane) return state.send("pin", { x: at.x, y: at.y });
        const best = nearest(gd, d, at.px, at.py, Infinity), id = best && idOf(d, best);
        if (id !== undefined && id !== null) state.send("pin", { index: Number(id) });
      }, 300);
    }, true);
  };
  hook();
  clearInterval(state.timer);
  const timer = (state.timer = setInterval(hook, 500));
  return () => { clearInterval(timer); hide(); };
}
