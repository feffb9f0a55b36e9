// hybrid-nc web terminal: frames on a canvas, keys and the mouse to the session, the symbolic
// screen beside it. Protocol: see hybrid_nc/web/protocol.py. Plain JS, no build step.
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
  let mouseTracking = 'off'; // what the program asked for; 'off': the mouse selects text
  let selection = null; // {anchor, head, unit, text}: the text is the symbolic screen's
  // counters the browser test reads (window.hnc); nothing else depends on them
  const counters = { frames: 0, updates: 0, steps: 0, errors: 0, mouse: 0, selects: 0 };
  window.hnc = {
    counters, get step() { return lastStep; }, get session() { return sid; },
    get selection() { return selection; },
  };

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

  // Until the first frame arrives the canvas says what is happening, in the terminal's own
  // grid, so a slow start or a refused session is never an empty black box.
  let framed = false;
  function paintMessage(lines, bad) {
    if (framed) return;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.font = `${cell[0] - 3}px "DejaVu Sans Mono", ui-monospace, monospace`;
    ctx.textBaseline = 'top';
    lines.forEach((line, i) => {
      ctx.fillStyle = bad && i === 0 ? '#ff7b72' : i === 0 ? '#d7dae0' : '#8a919c';
      ctx.fillText(line, cell[1], cell[0] * (i + 1));
    });
  }
  paintMessage(['hybrid-nc', 'starting a session: a sandboxed shell and the renderer…']);

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
    if (name === 'COPY') copyText();
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
  for (const c of [canvas, refCanvas]) c.addEventListener('focus', () => input.focus());

  // -- the mouse -------------------------------------------------------------------------
  // Over the canvases the mouse works in cells. While the program asks for the mouse, presses,
  // releases, moves and the wheel go to it (the session sends the bytes of the mode it asked
  // for); otherwise, or with Shift held, as in xterm, a drag selects, a double-click a word and
  // a triple-click a line. Moves are throttled: each one is a frame (the pointer is drawn).
  const MOVE_MS = 40;
  const BUTTON_NAMES = ['left', 'middle', 'right'];
  const WHEEL_NOTCH = 100; // pixels of deltaY per wheel notch (one notch in Chromium)
  let drag = null; // {mode: 'program'|'select', target, button, anchor, unit, head, moved}
  let moveTimer = null;
  let lastMoveAt = 0;
  let pendingMove = null; // the newest throttled message, as a function that sends it
  let lastPointer = '';
  let wheelAcc = 0;

  function cellAt(e, target) {
    const rect = target.getBoundingClientRect();
    const x = (e.clientX - rect.left) * (target.width / rect.width);
    const y = (e.clientY - rect.top) * (target.height / rect.height);
    const c = Math.max(0, Math.min(cols - 1, Math.floor(x / cell[1])));
    const r = Math.max(0, Math.min(rows - 1, Math.floor(y / cell[0])));
    return [r, c];
  }

  function sendMouse(at, button, action) {
    counters.mouse++;
    send({ type: 'mouse', col: at[1], row: at[0], button, action });
  }

  function sendSelect(anchor, head, unit) {
    counters.selects++;
    send(anchor ? { type: 'select', anchor, head, unit } : { type: 'select' });
  }

  // at most one message per MOVE_MS; the newest waits, so where the mouse stops is always sent
  function throttle(fn) {
    pendingMove = fn;
    if (moveTimer !== null) return;
    const wait = Math.max(0, MOVE_MS - (performance.now() - lastMoveAt));
    moveTimer = setTimeout(flushMove, wait);
  }

  function flushMove() {
    moveTimer = null;
    if (!pendingMove) return;
    const go = pendingMove;
    pendingMove = null;
    lastMoveAt = performance.now();
    go();
  }

  function dropMove() {
    if (moveTimer !== null) { clearTimeout(moveTimer); moveTimer = null; }
    pendingMove = null;
  }

  function pointerTo(at) {
    const key = at.join(',');
    if (key === lastPointer) return;
    lastPointer = key;
    throttle(() => sendMouse(at, drag && drag.button ? drag.button : 'left', 'move'));
  }

  function onMouseDown(e, target) {
    e.preventDefault(); // no native text selection or drag of the canvas
    input.focus();
    if (!ws || !cols) return;
    const at = cellAt(e, target);
    const button = BUTTON_NAMES[e.button];
    if (!button) return;
    if (mouseTracking !== 'off' && !e.shiftKey) {
      drag = { mode: 'program', target, button };
      dropMove();
      lastPointer = at.join(',');
      sendMouse(at, button, 'press');
      return;
    }
    if (button !== 'left') return;
    const unit = e.detail >= 3 ? 'line' : e.detail === 2 ? 'word' : 'cell';
    drag = { mode: 'select', target, anchor: at, head: at, unit };
    dropMove();
    if (unit !== 'cell') sendSelect(at, at, unit);
    else if (selection) sendSelect(null); // a plain click clears the selection
  }

  function onMouseMove(e) {
    if (drag) {
      const at = cellAt(e, drag.target);
      if (drag.mode === 'program') { pointerTo(at); return; }
      if (at[0] === drag.head[0] && at[1] === drag.head[1]) return;
      drag.head = at;
      drag.moved = true;
      const { anchor, unit } = drag;
      throttle(() => sendSelect(anchor, at, unit));
      return;
    }
    const target = e.target === canvas || e.target === refCanvas ? e.target : null;
    if (target && cols) pointerTo(cellAt(e, target));
  }

  function onMouseUp(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    const at = cellAt(e, d.target);
    if (d.mode === 'program') {
      dropMove();
      lastPointer = at.join(',');
      sendMouse(at, d.button, 'release');
    } else if (d.unit !== 'cell' || d.moved) {
      dropMove();
      sendSelect(d.anchor, at, d.unit); // the final extent, sent at once
    }
  }

  function onWheel(e, target) {
    if (!ws || !cols) return;
    e.preventDefault(); // the page does not scroll under the terminal
    const scale = e.deltaMode === 1 ? WHEEL_NOTCH / 3 : e.deltaMode === 2 ? WHEEL_NOTCH * 3 : 1;
    wheelAcc += e.deltaY * scale;
    const notches = Math.min(10, Math.floor(Math.abs(wheelAcc) / WHEEL_NOTCH));
    if (!notches) return;
    const action = wheelAcc < 0 ? 'wheel_up' : 'wheel_down';
    wheelAcc %= WHEEL_NOTCH; // a fling beyond ten notches is not queued up for later
    const at = cellAt(e, target);
    for (let i = 0; i < notches; i++) sendMouse(at, 'left', action);
  }

  for (const c of [canvas, refCanvas]) {
    c.addEventListener('mousedown', (e) => onMouseDown(e, c));
    c.addEventListener('wheel', (e) => onWheel(e, c), { passive: false });
    c.addEventListener('contextmenu', (e) => { if (mouseTracking !== 'off') e.preventDefault(); });
  }
  window.addEventListener('mousemove', onMouseMove);
  window.addEventListener('mouseup', onMouseUp);

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
      if (channel === 0) { counters.updates++; framed = true; }
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
    fitTruth(step.cols);
  }

  // The panel shows whole rows: when `cols` characters at the panel's font do not fit its
  // width, the font gets smaller (never below 6 px) instead of the rows' ends being cut off.
  const TRUTH_PX = 12;
  const probe = document.createElement('span');
  probe.className = 'truth-probe';
  probe.setAttribute('aria-hidden', 'true');
  probe.textContent = '0'.repeat(100);
  document.body.append(probe);
  let truthCols = 0;

  function fitTruth(n) {
    if (n) truthCols = n;
    if (!truthCols) return;
    const style = getComputedStyle(truth);
    const room = truth.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const charW = probe.getBoundingClientRect().width / 100; // at TRUTH_PX
    if (!(room > 0 && charW > 0)) return;
    const fits = Math.floor((TRUTH_PX * room / (truthCols * charW)) * 10) / 10;
    const px = Math.max(6, Math.min(TRUTH_PX, fits));
    truth.style.fontSize = px + 'px';
  }
  new ResizeObserver(() => fitTruth()).observe(truth);

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

  // the selection's text when something is selected, else the whole screen: always the symbolic
  // screen's characters, never read from pixels
  async function copyText() {
    const text = selection ? selection.text : screenText();
    const what = selection ? 'selection' : 'screen text';
    try {
      await navigator.clipboard.writeText(text);
      setStatus(`${what} copied`, 'good');
    } catch (err) {
      if (selection) {
        // no clipboard permission: the copy event below puts the selection's text there
        const ok = document.execCommand('copy');
        setStatus(ok ? 'selection copied' : 'copy refused by the browser', ok ? 'good' : 'bad');
        return;
      }
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
  $('copy').addEventListener('click', copyText);
  // a copy from the browser (menu, shortcut) while the terminal has the focus gives the
  // terminal's selection; a selection made in the side panel copies as usual
  document.addEventListener('copy', (e) => {
    const own = getSelection();
    const panelSelected = own && !own.isCollapsed && own.toString() !== '';
    if (!selection || (panelSelected && document.activeElement !== input)) return;
    e.clipboardData.setData('text/plain', selection.text);
    e.preventDefault();
  });
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
        paintMessage(['hybrid-nc',
          `session started: drawing the first frame (${msg.renderer})…`]);
        scheduleFit();
        break;
      case 'step':
        lastStep = msg;
        counters.steps++;
        if (msg.renderer !== rendererName) { rendererName = msg.renderer; showView(); }
        cols = msg.cols;
        rows = msg.rows;
        mouseTracking = msg.mouse || 'off';
        selection = msg.selection || null;
        renderTruth(msg);
        renderTrace(msg);
        if (msg.notice) setNotice(msg.notice);
        break;
      case 'selection':
        selection = msg.anchor ? msg : null;
        break;
      case 'config':
        setControls(msg);
        setNotice(msg.notice);
        break;
      case 'error':
        counters.errors++;
        setStatus(msg.message, 'bad');
        if (msg.fatal) paintMessage(['no session', msg.message], true);
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
      if (!framed && !$('status').classList.contains('bad')) {
        const why = ev.reason ? ': ' + ev.reason : '';
        paintMessage(['no session', 'the connection closed' + why], true);
      }
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
      paintMessage(['no session', `cannot open a session: ${err.message}`], true);
      return;
    }
    const [c, r] = fitSize();
    canvas.width = c * cell[1];
    canvas.height = r * cell[0];
    applyZoom();
    paintMessage(['hybrid-nc', 'starting a session: a sandboxed shell and the renderer…']);
    connect(c, r);
    input.focus();
  }

  start();
})();
