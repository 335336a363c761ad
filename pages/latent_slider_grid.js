// The Latent Slider's manifold grid, in the browser: a crosshair at the sliders' point and a click on a tile.
//
// Finds the grid's picture (in the container keyed data.box), lays a crosshair over it at data.cross (fractions
// of the picture; null: that line is off the grid) within data.area, and sends a click as the trigger "click"
// {fx, fy, grid} (fractions of the picture, data.grid). Streamlit calls this function again with each new
// `data` without calling a returned cleanup first, so the latest data lives in one shared place.
// Nothing runs while nothing changes (no timer: every open tab would pay for it): the crosshair is redrawn
// when data changes, when the picture's size changes (a ResizeObserver) and, until the picture has arrived,
// on the next animation frames.
export default function ({ data, parentElement, setTriggerValue }) {
  const doc = parentElement.ownerDocument || document;
  const state = doc.__sldGrid || (doc.__sldGrid = {});
  Object.assign(state, { data, send: setTriggerValue });
  const pct = (f) => 100 * f + "%";
  const draw = () => {
    const d = state.data, img = doc.querySelector("." + CSS.escape("st-key-" + d.box) + " img");
    if (!img || !img.offsetWidth) return false;
    if (state.observed !== img) {  // a new picture element: follow its size from now on
      if (!state.resize) state.resize = new ResizeObserver(() => draw());
      state.resize.disconnect();
      state.resize.observe(img);
      state.observed = img;
    }
    const host = img.parentElement;
    if (getComputedStyle(host).position === "static") host.style.position = "relative";
    let layer = host.querySelector(":scope > .sld-grid-cross");
    if (!layer) {
      const line = "position:absolute;background:#ff4b4b;box-shadow:0 0 0 1px rgba(255,255,255,.5);";
      layer = doc.createElement("div");
      layer.className = "sld-grid-cross";
      layer.style.cssText = "position:absolute;pointer-events:none";
      layer.innerHTML = `<div style="${line}width:2px"></div><div style="${line}height:2px"></div>` +
        '<div style="position:absolute;width:12px;height:12px;margin:-8px 0 0 -8px;border:2px solid #ff4b4b;' +
        'border-radius:50%"></div>';
      host.appendChild(layer);
    }
    Object.assign(layer.style, { left: img.offsetLeft + "px", top: img.offsetTop + "px",
                                 width: img.offsetWidth + "px", height: img.offsetHeight + "px" });
    const [x0, y0, x1, y1] = d.area, [cx, cy] = d.cross, [v, h, dot] = layer.children;
    Object.assign(v.style, { display: cx === null ? "none" : "block", left: `calc(${pct(cx)} - 1px)`,
                             top: pct(y0), height: pct(y1 - y0) });
    Object.assign(h.style, { display: cy === null ? "none" : "block", top: `calc(${pct(cy)} - 1px)`,
                             left: pct(x0), width: pct(x1 - x0) });
    Object.assign(dot.style, { display: cx === null || cy === null ? "none" : "block", left: pct(cx), top: pct(cy) });
    img.style.cursor = "crosshair";
    img.onclick = (e) => {
      const r = img.getBoundingClientRect();
      state.send("click", { fx: (e.clientX - r.left) / r.width, fy: (e.clientY - r.top) / r.height,
                            grid: state.data.grid });
    };
    return true;
  };
  // The picture may arrive after this data (its own request): try again on the next frames, for a while.
  const gen = (state.gen = (state.gen || 0) + 1);  // a newer call takes over the waiting
  const attempt = (left) => {
    if (gen === state.gen && !draw() && left > 0) requestAnimationFrame(() => attempt(left - 1));
  };
  attempt(600);  // about 10 s at 60 frames a second
}
