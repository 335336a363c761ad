// The Latent Scatter page's hover images (pages/4_Latent_Scatter.py reads this file and mounts it with
// st.components.v2.component, isolate_styles=False, so it runs in the app page itself).
// It finds the st.plotly_chart keyed `data.chart` (Streamlit gives a keyed element's container the class
// st-key-<key>), hooks its plotly_hover / plotly_unhover once per chart div (polling, so a re-created div is
// hooked again) and shows `data.images[held-out index]` with `data.captions[...]` in a floating panel.
// `data.traces[curve][point]` maps a point without customdata back to its held-out index.
// Streamlit calls this function again with each new `data` without calling the returned cleanup first, so the
// latest data lives in one shared place and only the last call's timer runs (older ones would hand the chart
// stale points and images).
export default function ({ data, parentElement }) {
  const doc = parentElement.ownerDocument || document;
  const state = doc.__sctHoverState || (doc.__sctHoverState = {});
  state.data = data;
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
  const show = (gd, ev) => {
    const d = gd.__sctHover, pt = ev && ev.points && ev.points[0];
    if (!d || !pt) return hide();
    let id = pt.customdata;
    if (Array.isArray(id)) id = id[0];
    if (id === undefined || id === null) id = ((d.traces || [])[pt.curveNumber] || [])[pt.pointNumber];
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
    const e = ev.event && ev.event.clientX !== undefined ? ev.event : gd.__sctMouse || {};
    place(e.clientX, e.clientY);
  };
  // Empty space: the map position under the cursor. On a plane (raw 2-D codes, or the PCA plane: data.plane
  // {base, u, v}, code = base + x·u + y·v) its code is decoded here with the page's decoder (browser_decode's
  // loader, data.spec_id); on t-SNE or UMAP (data.projection names it), which have no inverse, the nearest drawn
  // held-out point is shown instead.
  const empty = (gd, e) => {
    const d = gd.__sctHover, fl = gd._fullLayout;
    if (!d || !fl || !fl.xaxis || !fl._size) return;
    const r = gd.getBoundingClientRect(), sz = fl._size;
    const px = e.clientX - r.left - sz.l, py = e.clientY - r.top - sz.t;
    if (px < 0 || py < 0 || px > sz.w || py > sz.h) return hide();
    const x = fl.xaxis.p2l(px), y = fl.yaxis.p2l(py);
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
    let best = null, bestD = Infinity;
    (gd._fullData || []).forEach((t, curve) => {
      if (!t.x) return;
      for (let i = 0; i < t.x.length; i++) {
        const dx = t.x[i] - x, dy = t.y[i] - y, dd = dx * dx + dy * dy;
        if (dd < bestD) { bestD = dd; best = { curveNumber: curve, pointNumber: i, customdata: (t.customdata || [])[i] }; }
      }
    });
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
    gd.on("plotly_hover", (ev) => show(gd, ev));
    gd.on("plotly_unhover", () => { gd.__sctOnPoint = false; hide(); });
    gd.addEventListener("mouseleave", () => { gd.__sctOnPoint = false; hide(); });
    gd.addEventListener("mousemove", (e) => {
      gd.__sctMouse = { clientX: e.clientX, clientY: e.clientY };
      if (!gd.__sctOnPoint) empty(gd, e);
      if (panel.style.display !== "none") place(e.clientX, e.clientY);
    });
  };
  hook();
  clearInterval(state.timer);
  const timer = (state.timer = setInterval(hook, 500));
  return () => { clearInterval(timer); hide(); };
}
