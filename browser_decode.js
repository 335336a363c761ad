// The live decoded picture of the Latent Slider: decodes in the browser with TensorFlow.js while a slider moves.
//
// Mounted by browser_decode.py (a Streamlit custom component, v2, in the page's own DOM), in two roles:
// a loader (data: role "loader", spec = aecore.webdecoder.decoder_spec, spec_id = its name) builds the decoder
// once; a picture (data below) paints with it:
//   spec_id   the loader's decoder to use, or null: then only the server's picture is shown
//   sliders   the Streamlit slider widget keys, in order; base, matrix: code = base + values · matrix
//   fallback  the server's decoded picture (a PNG data URI) for the values of the last rerun; caption: its words
//   width     the picture's width in CSS pixels
// Every change of a slider's value (a drag, a key, a button that sets it) shows up in the attributes of the
// slider's range input (value, aria-valuetext); a MutationObserver sees it, the code is decoded here and painted on the canvas at once. The
// server's rerun still follows on release (the rest of the page), but the picture does not wait for it.
// If TensorFlow.js cannot load or the decoder fails, the server's picture is shown, as before.
// The canvas carries data-frame (paints so far), data-source ("browser" or "server") and data-z (the code it
// shows), which the browser tests and the benches read.

const TF_FILES = ["tf-core.min.js", "tf-backend-cpu.min.js"];
// Shared by every mount on the page (window globals: each mount may load this module on its own).
// Other in-page parts (the Scatter's hover) find the decoders and `paint` here too.
const shared = window.__aecoreDecode || (window.__aecoreDecode = { tfLoading: null, decoders: new Map() });

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error("could not load " + src));
    document.head.appendChild(s);
  });
}

function loadTf() {
  if (!shared.tfLoading) {
    shared.tfLoading = (async () => {
      if (!window.tf || !window.tf.conv2dTranspose) {
        const base = new URL("app/static/tfjs/", document.baseURI).href;
        for (const f of TF_FILES) await loadScript(base + f);
      }
      await window.tf.setBackend("cpu");
      await window.tf.ready();
      return window.tf;
    })();
    shared.tfLoading.catch(() => { shared.tfLoading = null; }); // a later mount may try again
  }
  return shared.tfLoading;
}

function activate(tf, x, name) {
  switch (name) {
    case "relu": return tf.relu(x);
    case "elu": return tf.elu(x);
    case "sigmoid": return tf.sigmoid(x);
    case "tanh": return tf.tanh(x);
    case "softplus": return tf.softplus(x);
    case "gelu": return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    case "linear": return x;
    default: throw new Error("unsupported activation " + name);
  }
}

function buildDecoder(tf, spec) {
  const raw = atob(spec.weights);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const flat = new Float32Array(bytes.buffer);
  const get = ref => ref && tf.keep(tf.tensor(flat.subarray(ref[0], ref[0] + ref[1].reduce((a, b) => a * b, 1)),
                                              ref[1]));
  const layers = spec.layers.map(l => ({ ...l, kernel: get(l.kernel), bias: get(l.bias), scale: get(l.scale),
                                         shift: get(l.shift) }));
  const [h, w, c] = spec.output_shape;
  return code => {
    const out = tf.tidy(() => {
      let x = tf.tensor2d(code, [1, code.length]);
      for (const l of layers) {
        if (l.type === "dense") x = tf.add(tf.matMul(x, l.kernel), l.bias);
        else if (l.type === "reshape") x = tf.reshape(x, [x.shape[0], ...l.shape]);
        else if (l.type === "conv2d") x = tf.add(tf.conv2d(x, l.kernel, l.strides, l.padding), l.bias);
        else if (l.type === "conv2d_transpose") {
          const [n, ih, iw] = x.shape, [kh, kw, f] = l.kernel.shape, [sh, sw] = l.strides;
          const shape = l.padding === "same" ? [n, ih * sh, iw * sw, f]
                                             : [n, (ih - 1) * sh + kh, (iw - 1) * sw + kw, f];
          x = tf.add(tf.conv2dTranspose(x, l.kernel, shape, l.strides, l.padding), l.bias);
        } else if (l.type === "upsampling2d") {
          x = tf.image.resizeNearestNeighbor(x, [x.shape[1] * l.size[0], x.shape[2] * l.size[1]]);
        } else if (l.type === "scale_shift") x = tf.add(tf.mul(x, l.scale), l.shift);
        if (l.activation) x = activate(tf, x, l.activation);
      }
      return x;
    });
    const values = out.dataSync();
    out.dispose();
    return { values, h, w, c };
  };
}

function paint(canvas, img) {
  const { values, h, w, c } = img;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(w, h);
  for (let i = 0, n = h * w; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const v = values[i * c + (c === 1 ? 0 : k)];
      pixels.data[4 * i + k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    pixels.data[4 * i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
}
shared.paint = paint;

function sliderValues(keys) {
  const bank = shared.banks && shared.banks.get(keys.join());
  if (bank && bank.active) return bank.values.slice();
  const out = [];
  for (const k of keys) {
    const input = document.querySelector(`.st-key-${k} input[type="range"]`);
    const v = input && parseFloat(input.value);
    if (!Number.isFinite(v)) return null;
    out.push(v);
  }
  return out;
}

function toCode(values, base, matrix) {
  const z = base.slice();
  values.forEach((v, i) => { for (let j = 0; j < z.length; j++) z[j] += v * matrix[i][j]; });
  return z;
}

// The loader: an invisible mount whose data is the decoder spec. It stays the same between reruns, so Streamlit
// sends it once per session (its message cache) and it is built once; pictures find it by spec_id.
function mountLoader(data) {
  if (shared.decoders.has(data.spec_id)) return;
  const ready = loadTf().then(tf => buildDecoder(tf, data.spec));
  shared.decoders.set(data.spec_id, ready);
  ready.catch(e => {
    console.warn("aecore: the browser decoder is unavailable; decoding on the server", e);
    shared.decoders.delete(data.spec_id);
  });
  ready.then(() => window.dispatchEvent(new CustomEvent("aecore-decoder", { detail: data.spec_id })));
}

// The pad: a square over two of the sliders (data.x, data.y: their indexes in data.sliders; data.range:
// [x0, x1, y0, y1] in slider units), the held-out codes drawn as dots (data.points [[x, y], ...], data.colours),
// and the sliders' point. Dragging the point sends "aecore-values" events (the picture decodes each at once);
// the release sets the state value "point" [x, y], and Python moves the two sliders there.
function mountPad(component) {
  const { data, parentElement, setStateValue } = component;
  let canvas = parentElement.querySelector("canvas.aecore-pad");
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = "aecore-pad";
    canvas.dataset.moves = "0";
    parentElement.appendChild(canvas);
  }
  const st = canvas.__pad || (canvas.__pad = { drag: null });
  st.data = data;
  st.send = setStateValue;
  const size = data.size, ratio = window.devicePixelRatio || 1;
  if (canvas.width !== size * ratio) { canvas.width = canvas.height = size * ratio; }
  canvas.style.width = canvas.style.height = size + "px";
  const [x0, x1, y0, y1] = data.range;
  const toPx = (x, y) => [(x - x0) / (x1 - x0) * size, (1 - (y - y0) / (y1 - y0)) * size];
  const fromPx = (px, py) => [x0 + Math.min(1, Math.max(0, px / size)) * (x1 - x0),
                              y0 + (1 - Math.min(1, Math.max(0, py / size))) * (y1 - y0)];
  const draw = () => {
    const d = st.data, ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size, size);
    ctx.fillStyle = "rgba(128,128,128,0.08)";
    ctx.fillRect(0, 0, size, size);
    d.points.forEach(([x, y], i) => {
      const [px, py] = toPx(x, y);
      ctx.fillStyle = d.colours[i] || "#888";
      ctx.globalAlpha = 0.55;
      ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
    });
    ctx.globalAlpha = 1;
    const values = st.drag || sliderValues(d.sliders);
    if (!values) return;
    const [px, py] = toPx(values[d.x], values[d.y]);
    ctx.strokeStyle = "#ff4b4b";
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, size); ctx.moveTo(0, py); ctx.lineTo(size, py); ctx.stroke();
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
  };
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    const base = st.drag || sliderValues(st.data.sliders);
    if (!base) return null;
    const values = base.slice();
    [values[st.data.x], values[st.data.y]] = fromPx(e.clientX - r.left, e.clientY - r.top);
    return values;
  };
  const moveTo = (e) => {
    const values = at(e);
    if (!values) return;
    st.drag = values;
    draw();
    canvas.dataset.moves = String(+canvas.dataset.moves + 1);
    window.dispatchEvent(new CustomEvent("aecore-values", { detail: { sliders: st.data.sliders, values } }));
  };
  if (!st.wired) {
    st.wired = true;
    canvas.style.touchAction = "none";
    canvas.style.cursor = "crosshair";
    canvas.addEventListener("pointerdown", e => { canvas.setPointerCapture(e.pointerId); st.drag = null; moveTo(e); });
    canvas.addEventListener("pointermove", e => { if (st.drag) moveTo(e); });
    const release = () => {
      if (!st.drag) return;
      const values = st.drag;
      st.drag = null;
      st.send("point", [values[st.data.x], values[st.data.y]]);
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);
    st.observer = new MutationObserver(() => { if (!st.drag) draw(); });
    st.observer.observe(document.body, { subtree: true, attributes: true, attributeFilter: ["value"] });
  }
  draw();
}

// The slider bank: the sliders themselves, in the page, once the decoder is ready (data: sliders = the Streamlit
// slider keys it stands for, labels, lo, hi, step, values = the sliders' values in the last rerun, bank = the
// key of the container of the Streamlit sliders, hidden while this bank shows). Moving a slider repaints the
// picture at once ("aecore-values") and tells the server nothing until the sliders rest for data.sync_ms: then
// one state value "values" (Python copies it into the Streamlit sliders; one rerun for a whole gesture). A
// rerun that changed the values on the server (Random sample, Reset, a pad or grid click) moves these sliders;
// the rerun that echoes what this bank sent does not (a key pressed while it ran must not be undone).
function mountBank(component) {
  const { data, parentElement, setStateValue } = component;
  const id = data.sliders.join();
  shared.banks = shared.banks || new Map();
  const bank = shared.banks.get(id) || { values: data.values.slice(), applied: null, active: false, timer: null };
  shared.banks.set(id, bank);
  bank.send = setStateValue;
  let root = parentElement.querySelector(".aecore-bank");
  if (!root) { // a new mount (say, back from another page): Streamlit's sliders answer until this one is ready
    bank.active = false;
    root = document.createElement("div");
    root.className = "aecore-bank";
    root.style.display = "none";
    parentElement.appendChild(root);
  }
  const serverValues = JSON.stringify(data.values);
  if (root.dataset.layout !== JSON.stringify([data.labels, data.lo, data.hi, data.step])) {
    root.dataset.layout = JSON.stringify([data.labels, data.lo, data.hi, data.step]);
    // The top of each range is its last step from the bottom (what the slider can reach; an end you cannot reach
    // would leave a key press at the end with nothing to do).
    const top = i => data.lo[i] + Math.floor((data.hi[i] - data.lo[i]) / data.step + 1e-9) * data.step;
    root.innerHTML = data.labels.map((label, i) =>
      `<label class="aecore-slider"><span class="aecore-name">${label}</span>` +
      `<span class="aecore-value"></span><input type="range" aria-label="${label}" min="${data.lo[i]}" ` +
      `max="${+top(i).toFixed(9)}" step="${data.step}" value="${data.values[i]}"></label>`).join("");
    bank.applied = null;
    root.querySelectorAll("input").forEach((input, i) => {
      input.addEventListener("input", () => {
        bank.values[i] = parseFloat(input.value);
        show();
        window.dispatchEvent(new CustomEvent("aecore-values",
                                             { detail: { sliders: data.sliders, values: bank.values.slice() } }));
        clearTimeout(bank.timer);
        bank.timer = setTimeout(() => {
          const values = bank.values.slice();
          bank.sent = (bank.sent || []).concat([values]).slice(-8);  // not yet echoed by the server
          bank.send("values", values);
        }, data.sync_ms);
      });
    });
  }
  const inputs = [...root.querySelectorAll("input")];
  const show = () => inputs.forEach((input, i) => {
    input.parentElement.querySelector(".aecore-value").textContent = bank.values[i].toFixed(2);
  });
  // The server's values changed: its echo of what this bank sent (the sliders may have moved on since: keep them),
  // or a move of its own (Random sample, Reset, the pad, a grid click, the first paint): follow it.
  if (bank.applied !== serverValues) {
    bank.applied = serverValues;
    const same = (a) => a.length === data.values.length &&
      a.every((v, i) => Math.abs(v - data.values[i]) <= 1e-6 * Math.max(1, Math.abs(v)));
    const echo = (bank.sent || []).findIndex(same);
    if (echo >= 0) {
      bank.sent = bank.sent.slice(echo + 1);  // this send and any older are answered
    } else {
      bank.sent = null;
      clearTimeout(bank.timer);
      bank.values = data.values.slice();
      inputs.forEach((input, i) => { input.value = String(bank.values[i]); });
      window.dispatchEvent(new CustomEvent("aecore-values", { detail: { sliders: data.sliders, values: bank.values.slice() } }));
    }
  }
  show();
  const ready = data.spec_id && shared.decoders.get(data.spec_id);
  const activate = () => {
    bank.active = true;
    root.style.display = "grid";
    root.style.gridTemplateColumns = `repeat(${data.columns || 1}, 1fr)`;
    root.style.columnGap = "2rem";
    if (!document.getElementById(`aecore-hide-${data.bank}`)) { // Streamlit's own sliders give way to these
      const style = document.createElement("style");
      style.id = `aecore-hide-${data.bank}`;
      style.textContent = `.st-key-${data.bank} { display: none !important; }`;
      document.head.appendChild(style);
    }
  };
  if (ready) ready.then(activate, () => {});
  else window.addEventListener("aecore-decoder", e => { if (e.detail === data.spec_id) activate(); }, { once: true });
}

export default function (component) {
  const { data, parentElement } = component;
  if (data.role === "bank") {
    mountBank(component);
    return;
  }
  if (data.role === "loader") {
    mountLoader(data);
    return;
  }
  if (data.role === "pad") {
    mountPad(component);
    return;
  }
  const root = parentElement.querySelector(".aecore-live") || (() => {
    const div = document.createElement("div");
    div.className = "aecore-live";
    div.innerHTML = '<canvas data-aecore-decoded data-frame="0" data-source="none"></canvas>' +
                    '<img alt="decoded image" style="display:none"><div class="aecore-caption"></div>';
    parentElement.appendChild(div);
    return div;
  })();
  const canvas = root.querySelector("canvas"), img = root.querySelector("img");
  const caption = root.querySelector(".aecore-caption");
  canvas.style.width = img.style.width = data.width + "px";
  const state = root.__state || (root.__state = { decode: null, frame: 0, observer: null, data });
  state.data = data;

  const showServer = () => {
    canvas.style.display = "none";
    img.style.display = "block";
    state.painted = null;
    if (img.getAttribute("src") !== data.fallback) img.src = data.fallback;
    caption.textContent = data.caption;
    canvas.dataset.source = "server";
  };
  const render = (given) => {
    const d = state.data;
    const values = state.decode && (given || sliderValues(d.sliders));
    if (!values) return showServer();
    const said = values.join(",") + "|" + d.spec_id;
    if (said === state.painted && canvas.style.display === "block") return; // a rerun redrew the same slider
    try {
      const z = toCode(values, d.base, d.matrix);
      paint(canvas, state.decode(z));
      state.painted = said;
      canvas.style.display = "block";
      img.style.display = "none";
      const shown = z.slice(0, 8).map(v => v.toFixed(2)).join(", ") + (z.length > 8 ? ", …" : "");
      caption.textContent = `decode(z), z = [${shown}] · decoded in your browser`;
      canvas.dataset.source = "browser";
      canvas.dataset.z = JSON.stringify(z);
      canvas.dataset.frame = String(++state.frame);
    } catch (e) {
      console.warn("aecore: the browser decoder failed; showing the server's picture", e);
      state.decode = null;
      state.painted = null;
      showServer();
    }
  };
  const attach = () => {
    const ready = data.spec_id && shared.decoders.get(data.spec_id);
    if (!ready) { state.decode = null; return; }
    ready.then(decode => {
      if (state.data.spec_id === data.spec_id) { state.decode = decode; render(); }
    }, () => {});
  };

  if (!state.observer) {
    state.observer = new MutationObserver(records => {
      if (records.some(r => r.target.closest && state.data.sliders.some(k => r.target.closest(`.st-key-${k}`)))) {
        render();
      }
    });
    state.observer.observe(document.body, { subtree: true, attributes: true, attributeFilter: ["value", "aria-valuetext"] });
    state.onDecoder = e => { if (e.detail === state.data.spec_id) attach(); };
    window.addEventListener("aecore-decoder", state.onDecoder);
    // A pad being dragged: the sliders' values with two of them replaced, decoded before any slider moves.
    state.onValues = e => { if (e.detail.sliders.join() === state.data.sliders.join()) render(e.detail.values); };
    window.addEventListener("aecore-values", state.onValues);
  }
  if (state.specId !== data.spec_id) { state.specId = data.spec_id; state.decode = null; }
  attach();
  render();
  return () => {
    state.observer.disconnect();
    window.removeEventListener("aecore-decoder", state.onDecoder);
    window.removeEventListener("aecore-values", state.onValues);
    root.__state = null;
  };
}
