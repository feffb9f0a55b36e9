// hybrid-nc web terminal: frames on a canvas, keys to the session, the symbolic screen beside it.
// Protocol: see hybrid_nc/web/server.py. Plain JS, no build step.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const canvas = $('screen');
  const refCanvas = $('reference');
  const input = $('input');
  const truth = $('truth');

  let ws = null;
  let sid = null;
  let cell = [16, 8]; // [height, width] in pixels
  let cols = 0;
  let rows = 0;
  let view = 'neural';
  let primary = 'neural';
  let rendererName = 'neural';
  let lastStep = null;
  let pendingKeys = [];
  let flushTimer = null;
  let resizeTimer = null;
  let drawChain = Promise.resolve();
  // counters the browser test reads (window.hnc); nothing else depends on them
  const counters = { frames: 0, updates: 0, steps: 0, errors: 0 };
  window.hnc = { counters, get step() { return lastStep; }, get session() { return sid; } };

  function query(extra) {
    const p = new URLSearchParams(extra || {});
    if (token) p.set('token', token);
    const s = p.toString();
    return s ? '?' + s : '';
  }

  function setStatus(text, kind) {
    const el = $('status');
    el.textContent = text;
    el.className = 'status' + (kind ? ' ' + kind : '');
  }

  function setNotice(text) {
    const el = $('notice');
    el.hidden = !text;
    el.textContent = text || '';
  }

  // -- sending ---------------------------------------------------------------------------
  function send(msg) {
    if (msg.type !== 'keys') flushKeys(); // keys typed before this message go first
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  // keys typed in one burst travel in one message; the server applies every one, in order
  function queueKey(name) {
    pendingKeys.push(name);
    if (flushTimer === null) flushTimer = setTimeout(flushKeys, 0);
  }

  function flushKeys() {
    if (flushTimer !== null) { clearTimeout(flushTimer); flushTimer = null; }
    if (!pendingKeys.length) return;
    const keys = pendingKeys;
    pendingKeys = [];
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'keys', keys }));
  }

  // -- keyboard --------------------------------------------------------------------------
  const NAMED = {
    Enter: 'Enter', Backspace: 'Backspace', Tab: 'Tab', Escape: 'Escape', ArrowUp: 'Up',
    ArrowDown: 'Down', ArrowLeft: 'Left', ArrowRight: 'Right', Home: 'Home', End: 'End',
    PageUp: 'PageUp', PageDown: 'PageDown', Delete: 'Delete', Insert: 'Insert',
  };
  for (let i = 1; i <= 12; i++) NAMED['F' + i] = 'F' + i;

  // A KeyboardEvent as a Session key name ("a", "Enter", "ctrl+c", "alt+b", "Up", "F5"), 'COPY',
  // or null when the browser should handle it (paste shortcuts, IME, lone modifiers).
  function keyName(e) {
    if (e.isComposing || e.key === 'Process' || e.key === 'Dead' || e.key === 'Unidentified') return null;
    if (e.metaKey) return null;
    const k = e.key;
    if (NAMED[k]) {
      if (k === 'Tab' && e.shiftKey) return 'shift+Tab';
      // Session keys combine Ctrl with characters only: Ctrl+arrow sends the arrow
      return (e.altKey ? 'alt+' : '') + NAMED[k];
    }
    if ([...k].length !== 1) return null; // Shift, Control, CapsLock, ...
    if ((e.ctrlKey || e.altKey) && (k === '+' || k === '-')) return null; // not expressible as a key name
    if (e.ctrlKey && !e.altKey) {
      const low = k.toLowerCase();
      if (low === 'v') return null; // Ctrl+V / Ctrl+Shift+V: let the paste event happen
      if (low === 'c' && e.shiftKey) return 'COPY';
      return 'ctrl+' + low;
    }
    if (e.altKey && !e.ctrlKey) return 'alt+' + k;
    return k; // plain, or AltGr (Ctrl+Alt) producing a character
  }

  input.addEventListener('keydown', (e) => {
    const name = keyName(e);
    if (name === null) return;
    e.preventDefault(); // Tab must not move the focus, Ctrl+W must not close the tab, ...
    if (name === 'COPY') copyTruth();
    else queueKey(name);
  });
  // text that does not come through keydown: IME compositions, dead keys
  input.addEventListener('input', (e) => {
    if (e.isComposing) return;
    const text = input.value;
    input.value = '';
    if (text) send({ type: 'text', data: text });
  });
  input.addEventListener('compositionend', () => {
    const text = input.value;
    input.value = '';
    if (text) send({ type: 'text', data: text });
  });
  input.addEventListener('paste', (e) => {
    e.preventDefault();
    const text = (e.clipboardData || window.clipboardData).getData('text');
    if (text) send({ type: 'paste', data: text });
  });
  input.addEventListener('focus', () => { canvas.classList.add('focused'); });
  input.addEventListener('blur', () => { canvas.classList.remove('focused'); });
  for (const c of [canvas, refCanvas]) {
    c.addEventListener('mousedown', (e) => { e.preventDefault(); input.focus(); });
    c.addEventListener('focus', () => input.focus());
  }

  // -- frames ----------------------------------------------------------------------------
  function zoom() { return parseFloat($('zoom').value) || 1; }

  function applyZoom() {
    const z = zoom();
    for (const c of [canvas, refCanvas]) {
      c.style.width = (c.width * z) + 'px';
      c.style.height = (c.height * z) + 'px';
      c.classList.toggle('pixelated', z !== 1);
    }
  }

  // binary message: channel u8, frame width u32, frame height u32, y offset u32, then a PNG band
  function onFrame(buf) {
    const dv = new DataView(buf);
    const channel = dv.getUint8(0);
    const w = dv.getUint32(1);
    const h = dv.getUint32(5);
    const y = dv.getUint32(9);
    const blob = new Blob([new Uint8Array(buf, 13)], { type: 'image/png' });
    const target = channel === 1 ? refCanvas : canvas;
    // decode in parallel, draw in arrival order
    const decoded = createImageBitmap(blob);
    drawChain = drawChain.then(async () => {
      const bmp = await decoded;
      if (target.width !== w || target.height !== h) {
        target.width = w;
        target.height = h;
        applyZoom();
      }
      target.getContext('2d').drawImage(bmp, 0, y);
      bmp.close();
      if (channel === 0) counters.updates++;
    }).catch((err) => { counters.errors++; console.error('frame', err); });
  }

  // -- the symbolic screen and the trace ------------------------------------------------
  function renderTruth(step) {
    const marks = new Map(); // row -> [[start, end, class]]
    const add = (r, s, e, cls) => {
      if (!marks.has(r)) marks.set(r, []);
      marks.get(r).push([s, e, cls]);
    };
    if ($('show-wrong').checked) for (const [r, s, e] of step.wrong) add(r, s, e, 'wrong');
    if (step.cursor_span && document.activeElement === input) {
      const [r, s, e] = step.cursor_span;
      add(r, s, e, 'cursor');
    }
    const frag = document.createDocumentFragment();
    step.lines.forEach((line, r) => {
      const spans = (marks.get(r) || []).sort((a, b) => a[0] - b[0]);
      let at = 0;
      for (const [s, e, cls] of spans) {
        if (s < at) continue;
        if (s > at) frag.append(line.substring(at, s));
        const el = document.createElement('span');
        el.className = cls;
        el.textContent = line.substring(s, e);
        frag.append(el);
        at = e;
      }
      frag.append(line.substring(at).replace(/\s+$/, ''));
      if (r < step.lines.length - 1) frag.append('\n');
    });
    truth.replaceChildren(frag);
  }

  function fmt(v, digits) { return typeof v === 'number' ? v.toFixed(digits) : '–'; }

  function renderTrace(step) {
    const t = step.timings || {};
    const a = step.accuracy || {};
    const times = ['state', 'caption', 'render', 'verify', 'reason', 'total']
      .filter((k) => k in t).map((k) => `${k} ${fmt(t[k], 1)}`).join(' · ');
    const rows = [
      ['step', `#${step.index} ${step.kind}${step.action ? ': ' + step.action : ''}`],
      ['route', step.route || '–'],
      ['reason', step.reason || '–'],
      ['renderer', step.renderer],
      ['accuracy', `raw ${fmt(a.raw, 4)} → repaired ${fmt(a.repaired, 4)}`],
      ['wrong cells', step.wrong_total > step.wrong.length
        ? `${step.wrong_total} before repair (${step.wrong.length} highlighted)`
        : `${step.wrong_total} before repair`],
      ['timings ms', times || '–'],
      ['screen', `${step.cols}×${step.rows}, cursor ${step.cursor[0]},${step.cursor[1]}`],
    ];
    // the LLM's own words (its structured reply) and, for a word problem, what sympy made of them
    const tr = step.trace || {};
    if (step.route === 'llm' && tr.model) {
      rows.push(['llm model', tr.model]);
      if (tr.reply) rows.push(['llm reply', tr.reply]);
      if (tr.expression) {
        rows.push(['expression', `${tr.expression} = ${tr.result ?? '(not computed)'} (sympy)`]);
      }
      if (tr.llm_error) rows.push(['llm error', tr.llm_error]);
    }
    const frag = document.createDocumentFragment();
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dd.dataset.key = k;
      frag.append(dt, dd);
    }
    $('trace').replaceChildren(frag);
    $('caption').textContent = step.caption || '';
  }

  function screenText() {
    if (!lastStep) return '';
    return lastStep.lines.map((l) => l.replace(/\s+$/, '')).join('\n').replace(/\n+$/, '');
  }

  async function copyTruth() {
    const text = screenText();
    try {
      await navigator.clipboard.writeText(text);
      setStatus('screen text copied', 'good');
    } catch (err) {
      // no clipboard permission: select the panel and use the legacy command
      const range = document.createRange();
      range.selectNodeContents(truth);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      const ok = document.execCommand('copy');
      setStatus(ok ? 'screen text copied' : 'select the text in the panel to copy it', ok ? 'good' : '');
    }
  }

  // -- controls --------------------------------------------------------------------------
  function showView() {
    $('reference-figure').hidden = view !== 'side';
    $('view').options[0].textContent = primary;
    $('screen-caption').textContent = rendererName === 'raster' ? 'raster (the exact reference)'
      : `${rendererName} (drawn by the model)`;
  }

  function setControls(msg) {
    if (msg.view) { view = msg.view; $('view').value = view; }
    if (msg.theme) $('theme').value = msg.theme;
    if (typeof msg.seed === 'number') $('seed').value = msg.seed;
    const steps = $('steps');
    steps.disabled = typeof msg.steps !== 'number';
    if (typeof msg.steps === 'number') steps.value = msg.steps;
    if (msg.cell) cell = msg.cell;
    if (msg.primary) primary = msg.primary;
    if (msg.renderer) rendererName = msg.renderer;
    showView();
  }

  function fillThemes(themes) {
    const sel = $('theme');
    sel.replaceChildren(...themes.map((t) => new Option(t, t)));
  }

  $('view').addEventListener('change', () => {
    view = $('view').value;
    showView();
    send({ type: 'config', view });
    scheduleFit();
  });
  $('theme').addEventListener('change', () => send({ type: 'config', theme: $('theme').value }));
  $('seed').addEventListener('change', () => {
    const seed = parseInt($('seed').value, 10);
    if (Number.isInteger(seed) && seed >= 0) send({ type: 'config', seed });
  });
  $('steps').addEventListener('change', () => {
    const steps = parseInt($('steps').value, 10);
    if (Number.isInteger(steps) && steps >= 1) send({ type: 'config', steps });
  });
  $('zoom').addEventListener('change', () => { applyZoom(); scheduleFit(); });
  $('fit').addEventListener('change', scheduleFit);
  $('copy').addEventListener('click', copyTruth);
  $('show-wrong').addEventListener('change', () => { if (lastStep) renderTruth(lastStep); });

  async function download(ext) {
    if (!sid) return;
    setStatus(`preparing .${ext}…`);
    try {
      const r = await fetch(`/api/sessions/${sid}/recording.${ext}${query()}`);
      if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `hybrid-nc-${sid.slice(0, 8)}.${ext}`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      setStatus(`downloaded .${ext}`, 'good');
    } catch (err) {
      setStatus(`download failed: ${err.message}`, 'bad');
    }
  }
  $('dl-cast').addEventListener('click', () => download('cast'));
  $('dl-mp4').addEventListener('click', () => download('mp4'));

  // -- size: the window decides the terminal's columns and rows --------------------------
  function fitSize() {
    const term = $('term');
    const z = zoom();
    const pad = 16;
    let w = term.clientWidth - pad;
    const h = term.clientHeight - pad - 18; // figcaption
    if (view === 'side') w = (w - 8) / 2;
    const c = Math.max(10, Math.min(300, Math.floor(w / (cell[1] * z))));
    const r = Math.max(4, Math.min(120, Math.floor(h / (cell[0] * z))));
    return [c, r];
  }

  function scheduleFit() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!$('fit').checked || !ws || ws.readyState !== WebSocket.OPEN) return;
      const [c, r] = fitSize();
      if (c !== cols || r !== rows) send({ type: 'resize', cols: c, rows: r });
    }, 150);
  }
  new ResizeObserver(scheduleFit).observe($('term'));

  // -- the connection --------------------------------------------------------------------
  function onMessage(msg) {
    switch (msg.type) {
      case 'hello':
        sid = msg.session;
        cols = msg.cols;
        rows = msg.rows;
        setControls(msg);
        setNotice(msg.notice);
        setStatus(`connected · ${msg.renderer} renderer · ${msg.reasoners.join('+')}`, 'good');
        scheduleFit();
        break;
      case 'step':
        lastStep = msg;
        counters.steps++;
        if (msg.renderer !== rendererName) { rendererName = msg.renderer; showView(); }
        cols = msg.cols;
        rows = msg.rows;
        renderTruth(msg);
        renderTrace(msg);
        if (msg.notice) setNotice(msg.notice);
        break;
      case 'config':
        setControls(msg);
        setNotice(msg.notice);
        break;
      case 'error':
        counters.errors++;
        setStatus(msg.message, 'bad');
        break;
      case 'closed':
        setStatus(`session closed: ${msg.reason} (reload for a new one)`, 'bad');
        break;
      default:
        break;
    }
  }

  function connect(c, r) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws${query({ cols: c, rows: r })}`);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') onMessage(JSON.parse(ev.data));
      else { counters.frames++; onFrame(ev.data); }
    };
    ws.onclose = (ev) => {
      if (!$('status').classList.contains('bad')) {
        setStatus('disconnected' + (ev.reason ? ': ' + ev.reason : '') + ' (reload to start again)', 'bad');
      }
    };
  }

  async function start() {
    try {
      const r = await fetch('/api/info' + query());
      const info = await r.json();
      if (!r.ok) throw new Error(info.detail || r.statusText);
      cell = info.cell;
      fillThemes(info.themes);
    } catch (err) {
      setStatus(`cannot open a session: ${err.message}`, 'bad');
      return;
    }
    applyZoom();
    const [c, r] = fitSize();
    connect(c, r);
    input.focus();
  }

  start();
})();
