// paysuite cashier page: vanilla JS against the gateway's own JSON routes (same origin).
// Every /v1 call but the catalog carries a bearer token for the user in the "User" box; in dev
// mode the page gets one from the gateway's dev issuer (POST /dev/token). The token lives in
// memory only and is sent in a header, the live status stream included (read with fetch, as
// EventSource cannot send headers): never in a URL, where it would land in logs.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TERMINAL = new Set(['PAID', 'CANCELLED', 'REFUNDED']);
  // Channels whose buyer leaves the page for the provider's cashier and comes back to /result.
  const REDIRECT = new Set(['ALIPAY_PAGE', 'ALIPAY_WAP', 'WECHAT_H5']);
  const RETURN_KEY = 'paysuite.return'; // sessionStorage: the payment the buyer left to pay
  const state = {
    devMode: false, skus: [], sku: null, order: null, payment: null,
    orderRequestId: null, stream: null, poll: null, tick: null, history: null,
    token: null, tokenUser: null, tokenExpires: 0,
  };

  // ---- helpers ----------------------------------------------------------
  function randomId(prefix) {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b); // works on plain http too, unlike randomUUID
    return prefix + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // Exact fen → "¥12.34" without floating point (amounts arrive as int64 strings).
  function yuan(fen) {
    let s = String(fen ?? '0');
    const neg = s.startsWith('-');
    if (neg) s = s.slice(1);
    s = s.padStart(3, '0');
    return (neg ? '-¥' : '¥') + s.slice(0, -2).replace(/^0+(?=\d)/, '') + '.' + s.slice(-2);
  }

  function when(ts) { return ts ? new Date(ts).toLocaleString() : ''; }

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') n.className = v; else if (k.startsWith('data-')) n.setAttribute(k, v); else n[k] = v;
    }
    for (const c of children) if (c != null) n.append(c);
    return n;
  }

  function badge(node, status) {
    node.textContent = status || '';
    node.className = 'badge ' + (status || '');
  }

  // token returns a bearer token for the current user, asking the dev issuer for a new one when
  // the user changed or the one held expires within a minute.
  async function token(fresh) {
    const u = userId();
    if (!fresh && state.token && state.tokenUser === u && state.tokenExpires - Date.now() > 60000) return state.token;
    const res = await fetch('/dev/token', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ userId: u }),
    });
    if (!res.ok) {
      const err = new Error(res.status === 404
        ? 'No token: this gateway is not in dev mode, and the page has no sign-in of its own.'
        : 'Could not get a token for ' + u + ' (' + res.status + ')');
      err.status = res.status;
      throw err;
    }
    const t = await res.json();
    state.token = t.token;
    state.tokenUser = u;
    state.tokenExpires = Date.parse(t.expiresAt);
    return state.token;
  }

  async function api(method, path, body, retried) {
    const opts = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (path.startsWith('/v1/') && path !== '/v1/skus') {
      opts.headers.Authorization = 'Bearer ' + await token(retried);
    }
    const res = await fetch(path, opts);
    if (res.status === 401 && !retried && opts.headers.Authorization) return api(method, path, body, true);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (!res.ok) {
      const err = new Error((data && data.message) || res.status + ' ' + res.statusText);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function showError(err) {
    const box = $('error');
    box.textContent = err ? (err.status ? `${err.status}: ` : '') + err.message : '';
    box.hidden = !err;
  }

  function userId() { return $('user-id').value.trim(); }

  // device picks the channels offered: inside WeChat (JSAPI), a phone's browser (WAP, H5) or a
  // PC (page pay and the two QR codes). ?device=pc|mobile|wechat overrides it (demos, tests).
  function device() {
    const forced = new URLSearchParams(location.search).get('device');
    if (['pc', 'mobile', 'wechat'].includes(forced)) return forced;
    const ua = navigator.userAgent;
    if (/MicroMessenger/i.test(ua)) return 'wechat';
    if (/Mobi|Android|iPhone|iPad|iPod/i.test(ua)) return 'mobile';
    return 'pc';
  }

  // openId is the payer's openid under the merchant's official account. A real page gets it from
  // WeChat's OAuth redirect (?openid= here); in dev mode the sandbox accepts a made-up one.
  function openId() {
    const q = new URLSearchParams(location.search).get('openid');
    if (q) return q;
    return state.devMode ? ('o' + userId().replace(/[^0-9A-Za-z_-]/g, '')).slice(0, 28) : '';
  }

  // ---- catalog ----------------------------------------------------------
  async function loadSkus() {
    const list = $('sku-list');
    try {
      const res = await api('GET', '/v1/skus');
      state.skus = res.skus || [];
    } catch (err) {
      list.replaceChildren(el('p', { class: 'muted', textContent: 'Catalog unavailable: ' + err.message }));
      return;
    }
    list.replaceChildren(...state.skus.map((s) => {
      const b = el('button', { class: 'sku', type: 'button', 'data-sku-id': s.skuId },
        el('span', { class: 'title', textContent: s.title }),
        el('span', { class: 'meta' },
          el('span', { class: 'kind ' + s.kind, textContent: s.kind }),
          el('span', { class: 'price', textContent: yuan(s.priceFen) })),
        el('span', { class: 'meta', textContent: 'stock ' + s.stock }));
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => selectSku(s));
      return b;
    }));
    if (!state.skus.length) list.replaceChildren(el('p', { class: 'muted', textContent: 'The catalog is empty.' }));
    // A reload (stock changed by an order) keeps the buyer's selection.
    if (state.sku) {
      for (const b of list.querySelectorAll('.sku')) {
        b.setAttribute('aria-pressed', String(b.dataset.skuId === state.sku.skuId));
      }
    }
  }

  function selectSku(s) {
    state.sku = s;
    state.orderRequestId = null;
    for (const b of $('sku-list').querySelectorAll('.sku')) {
      b.setAttribute('aria-pressed', String(b.dataset.skuId === s.skuId));
    }
    $('qty').value = '1';
    $('qty').disabled = s.kind === 'COURSE'; // a course is bought once
    $('place-order').disabled = false;
  }

  // ---- order ------------------------------------------------------------
  async function placeOrder() {
    if (!state.sku) return;
    if (!userId()) { showError(new Error('Enter a user id first.')); return; }
    showError(null);
    // The requestId is kept until the server answers, so a retry after a network error
    // returns the same order instead of creating a second one.
    state.orderRequestId = state.orderRequestId || randomId('web-');
    const quantity = Math.max(1, parseInt($('qty').value, 10) || 1);
    $('place-order').disabled = true;
    try {
      const order = await api('POST', '/v1/orders', {
        userId: userId(), requestId: state.orderRequestId, items: [{ skuId: state.sku.skuId, quantity }],
      });
      state.orderRequestId = null;
      openOrder(order);
      refreshHistory();
      loadSkus(); // the order now holds stock
    } catch (err) {
      if (err.status && err.status < 500) state.orderRequestId = null;
      showError(err);
    } finally {
      $('place-order').disabled = false;
    }
  }

  function openOrder(order) {
    stopWatch();
    state.order = order;
    state.payment = null;
    $('order-panel').hidden = false;
    $('payment-panel').hidden = true;
    $('result').hidden = true;
    renderOrder();
    if (!TERMINAL.has(order.status)) startWatch();
    $('order-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function renderOrder() {
    const o = state.order;
    $('order-id').textContent = o.orderId;
    $('order-items').textContent = (o.items || []).map((i) => `${i.title} × ${i.quantity}`).join(', ');
    $('order-total').textContent = yuan(o.totalFen);
    badge($('order-status'), o.status);
    const open = o.status === 'PENDING_PAYMENT';
    const live = state.payment && state.payment.status === 'WAITING' && !expired();
    for (const b of $('channels').querySelectorAll('.channel')) b.disabled = !open || live;
    $('cancel-order').hidden = !open;
    $('channels').hidden = !open;
    if (TERMINAL.has(o.status)) {
      const r = $('result');
      r.hidden = false;
      r.className = 'result ' + o.status;
      r.textContent = o.status === 'PAID' ? `Paid ${yuan(o.totalFen)} — thank you!`
        : o.status === 'CANCELLED' ? `Order cancelled${o.cancelReason ? ' (' + o.cancelReason + ')' : ''}.`
          : `Order ${o.status.toLowerCase()}.`;
      $('sandbox-pay').hidden = true;
    }
  }

  async function pay(channel) {
    showError(null);
    const body = { channel };
    // The gateway fills the buyer's address (H5) itself; the return URL must be on the payment
    // service's PAYMENT_RETURN_URL_ALLOWLIST.
    if (REDIRECT.has(channel)) body.returnUrl = location.origin + '/result';
    if (channel === 'WECHAT_JSAPI') body.openId = openId();
    try {
      const p = await api('POST', `/v1/orders/${state.order.orderId}/payments`, body);
      if (p.payUrl) {
        // Off to the provider's cashier; /result picks the payment up from here.
        sessionStorage.setItem(RETURN_KEY, JSON.stringify({ orderId: state.order.orderId, paymentId: p.paymentId }));
        stopWatch();
        location.assign(p.payUrl);
        return;
      }
      state.payment = p;
      state.jsapi = p.jsapiParams || null;
      $('sandbox-pay').disabled = false;
      $('sandbox-pay').textContent = 'Pay with sandbox';
      renderPayment();
      renderOrder();
    } catch (err) {
      showError(err);
    }
  }

  function expired() {
    return state.payment && state.payment.expireAt && Date.parse(state.payment.expireAt) <= Date.now();
  }

  function renderPayment() {
    const p = state.payment;
    $('payment-panel').hidden = false;
    if (p.qrPngBase64) $('qr-img').src = 'data:image/png;base64,' + p.qrPngBase64;
    $('qr-figure').hidden = !p.qrCode;
    $('payment-channel').textContent = p.channel === 'WECHAT_NATIVE' ? 'WeChat' : 'Alipay';
    $('qr-code').textContent = p.qrCode || '';
    if (p.qrCode) $('qr-code').href = p.qrCode; else $('qr-code').removeAttribute('href');
    if (p.jsapiParams) state.jsapi = p.jsapiParams; // GetPayment does not repeat them
    badge($('payment-status'), p.status);
    const canSandbox = state.devMode && p.status === 'WAITING' && !expired() && (!!p.qrCode || !!state.jsapi);
    $('sandbox-pay').hidden = !canSandbox;
    $('sandbox-note').hidden = !canSandbox;
    tickCountdown();
  }

  function tickCountdown() {
    const p = state.payment;
    if (!p || !p.expireAt) return;
    const left = Math.max(0, Math.floor((Date.parse(p.expireAt) - Date.now()) / 1000));
    const mm = String(Math.floor(left / 60)).padStart(2, '0');
    const ss = String(left % 60).padStart(2, '0');
    $('countdown').textContent = p.status !== 'WAITING' ? '—' : left > 0 ? `${mm}:${ss}` : 'expired';
    if (left === 0 && p.status === 'WAITING') {
      $('sandbox-pay').hidden = true;
      renderOrder(); // channels open again for a fresh attempt while the order lives
    }
  }

  // jsapiPay hands the signed parameters to the WeChat client (getBrandWCPayRequest). Its "ok"
  // is not proof of payment: the page keeps asking the server, as for every channel.
  function jsapiPay(params) {
    return new Promise((resolve, reject) => {
      window.WeixinJSBridge.invoke('getBrandWCPayRequest', params, (res) => {
        if (res && res.err_msg === 'get_brand_wcpay_request:ok') resolve(); else reject(new Error(res ? res.err_msg : 'WeChat refused'));
      });
    });
  }

  async function sandboxPay() {
    const btn = $('sandbox-pay');
    btn.disabled = true;
    showError(null);
    try {
      const j = state.payment.channel === 'WECHAT_JSAPI' ? state.jsapi : null;
      if (j && window.WeixinJSBridge) {
        await jsapiPay(j);
      } else if (j) {
        // Dev: the sandbox plays the WeChat client, which checks paySign before paying.
        await api('POST', '/dev/sandbox/pay', { prepayId: j.package.replace(/^prepay_id=/, ''), ...j });
      } else {
        await api('POST', '/dev/sandbox/pay', { qrCode: state.payment.qrCode, buyerId: 'sandbox-buyer' });
      }
      btn.textContent = 'Paid in sandbox — waiting for the notify…';
      refresh();
    } catch (err) {
      btn.disabled = false;
      showError(err);
    }
  }

  async function cancelOrder() {
    showError(null);
    try {
      state.order = await api('POST', `/v1/orders/${state.order.orderId}:cancel`, { userId: state.order.userId });
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  // ---- live status: SSE from WatchOrder, plus a 2 s poll as the source of truth -------
  // watchEvents reads the text/event-stream of the order with fetch (the token goes in the
  // Authorization header) and calls onEvent(name) per event, until the stream ends or stop().
  function watchEvents(id, onEvent) {
    const ctrl = new AbortController();
    (async () => {
      const res = await fetch(`/v1/orders/${id}/events`, {
        headers: { Accept: 'text/event-stream', Authorization: 'Bearer ' + await token() }, signal: ctrl.signal,
      });
      if (!res.ok || !res.body) return; // refused: the poll carries on
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const name = (block.match(/^event: (.*)$/m) || [])[1];
          if (name) onEvent(name);
        }
      }
    })().catch(() => {}); // aborted or dropped: the poll carries on
    return { stop: () => ctrl.abort() };
  }

  function startWatch() {
    const id = state.order.orderId;
    state.stream = watchEvents(id, (name) => {
      if (name === 'status' || name === 'end') refresh();
    });
    state.poll = setInterval(refresh, 2000);
    state.tick = setInterval(tickCountdown, 1000);
  }

  function stopWatch() {
    if (state.stream) state.stream.stop();
    clearInterval(state.poll);
    clearInterval(state.tick);
    state.stream = state.poll = state.tick = null;
  }

  let refreshing = false;
  async function refresh() {
    if (!state.order || refreshing) return;
    refreshing = true;
    try {
      const [order, payment] = await Promise.all([
        api('GET', `/v1/orders/${state.order.orderId}`),
        state.payment ? api('GET', `/v1/payments/${state.payment.paymentId}`) : null,
      ]);
      if (!state.order || order.orderId !== state.order.orderId) return;
      state.order = order;
      if (payment) { state.payment = payment; renderPayment(); }
      renderOrder();
      if (TERMINAL.has(order.status)) {
        stopWatch();
        if (state.payment) renderPayment();
        followHistory(order);
      }
    } catch (err) {
      // transient: the next tick retries
    } finally {
      refreshing = false;
    }
  }

  // ---- history ----------------------------------------------------------
  // Enrolments and notifications follow a payment asynchronously (via the broker), so after
  // a terminal status the lists are refreshed a few times until the order shows up in them.
  function followHistory(order) {
    clearInterval(state.history);
    if (order.status === 'CANCELLED') loadSkus(); // its stock is back
    let tries = 0;
    const wantEnrolment = order.status === 'PAID' && (order.items || []).some((i) => i.kind === 'COURSE');
    const step = async () => {
      tries++;
      const seen = await refreshHistory();
      const done = seen.notifications.has(order.orderId) && (!wantEnrolment || seen.enrollments.has(order.orderId));
      if (done || tries >= 15) clearInterval(state.history);
    };
    step();
    state.history = setInterval(step, 1500);
  }

  async function refreshHistory() {
    const seen = { enrollments: new Set(), notifications: new Set() };
    const u = userId();
    if (!u) return seen;
    const enc = encodeURIComponent(u);
    const [orders, enrollments, notifications] = await Promise.allSettled([
      api('GET', `/v1/users/${enc}/orders?pageSize=10`),
      api('GET', `/v1/users/${enc}/enrollments`),
      api('GET', `/v1/users/${enc}/notifications?pageSize=10`),
    ]);
    fill($('orders-list'), orders, (r) => r.orders, (o) => {
      const li = el('li', { 'data-order-id': o.orderId },
        el('span', {}, `#${o.orderId} `, el('span', { class: 'badge ' + o.status, textContent: o.status }), ' ' + yuan(o.totalFen)),
        el('span', { class: 'sub', textContent: (o.items || []).map((i) => i.title).join(', ') + ' · ' + when(o.createdAt) }));
      if (o.status === 'PENDING_PAYMENT') {
        const b = el('button', { class: 'link', type: 'button', textContent: 'Resume' });
        b.addEventListener('click', () => openOrder(o));
        li.append(b);
      }
      return li;
    }, 'No orders yet.');
    fill($('enrollments-list'), enrollments, (r) => r.enrollments, (e) => {
      seen.enrollments.add(e.orderId);
      return el('li', { 'data-order-id': e.orderId, 'data-course-id': e.courseId },
        el('span', { textContent: e.title || e.courseId }),
        el('span', { class: 'sub', textContent: `${e.active ? 'active' : 'revoked'} · since ${when(e.enrolledAt)}` }));
    }, 'No enrolments yet.');
    fill($('notifications-list'), notifications, (r) => r.notifications, (n) => {
      seen.notifications.add(n.orderId);
      return el('li', { 'data-order-id': n.orderId },
        el('span', { textContent: n.message || n.kind }),
        el('span', { class: 'sub', textContent: `${n.kind} · ${when(n.createdAt)}` }));
    }, 'Nothing yet.');
    return seen;
  }

  function fill(list, settled, pick, render, emptyText) {
    if (settled.status === 'rejected') {
      list.replaceChildren(el('li', { class: 'empty', textContent: 'Unavailable: ' + settled.reason.message }));
      return;
    }
    const items = pick(settled.value || {}) || [];
    list.replaceChildren(...(items.length ? items.map(render) : [el('li', { class: 'empty', textContent: emptyText })]));
  }

  // ---- the return page (/result) -------------------------------------------
  // The provider sends the buyer's browser here after its cashier. Alipay adds signed
  // parameters: the payment service verifies them and asks Alipay about the trade at once, so a
  // paid order shows sooner; WeChat H5 adds nothing (and also comes here on cancel). Either way
  // the page shows only what the server knows, polling until the order settles.
  async function showReturn() {
    $('return-panel').hidden = false;
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(RETURN_KEY) || 'null'); } catch { saved = null; }
    const query = location.search.slice(1);
    let paymentId = saved && saved.paymentId;
    const check = $('return-check');
    if (new URLSearchParams(query).has('sign')) {
      try {
        const p = await api('POST', '/v1/payments:verifyReturn', { query });
        paymentId = p.paymentId;
        check.className = 'small verified';
        check.textContent = 'Back from the provider; the payment is confirmed with the provider itself, not by this link.';
      } catch (err) {
        check.className = 'small forged';
        check.textContent = 'This return link could not be verified: it proves nothing. Showing what the server knows.';
      }
    } else {
      check.className = 'small unverified';
      check.textContent = 'Back from the provider. Arriving here says nothing about payment: checking with the server…';
    }
    if (!paymentId) {
      $('return-payment-status').textContent = 'no payment to show';
      return;
    }
    let timer = null;
    const update = async () => {
      try {
        const p = await api('GET', `/v1/payments/${paymentId}`);
        const o = await api('GET', `/v1/orders/${p.orderId}`);
        $('return-order-id').textContent = o.orderId;
        $('return-channel').textContent = p.channel;
        badge($('return-payment-status'), p.status);
        badge($('return-order-status'), o.status);
        if (TERMINAL.has(o.status) && timer) { clearInterval(timer); timer = null; }
      } catch (err) {
        showError(err);
      }
    };
    $('return-refresh').addEventListener('click', update);
    await update();
    if (!TERMINAL.has($('return-order-status').textContent)) timer = setInterval(update, 2000);
  }

  // ---- start ------------------------------------------------------------
  async function init() {
    const input = $('user-id');
    input.value = localStorage.getItem('paysuite.userId') || randomId('user-').slice(0, 13);
    localStorage.setItem('paysuite.userId', input.value);
    input.addEventListener('change', () => {
      localStorage.setItem('paysuite.userId', userId());
      state.token = null; // the next call asks for the new user's token
      refreshHistory();
    });
    $('place-order').addEventListener('click', placeOrder);
    const dev = device();
    $('device').textContent = { pc: 'a computer', mobile: "a phone's browser", wechat: 'WeChat' }[dev];
    for (const b of $('channels').querySelectorAll('.channel')) {
      b.hidden = !b.dataset.devices.split(' ').includes(dev);
      b.addEventListener('click', () => pay(b.dataset.channel));
    }
    $('sandbox-pay').addEventListener('click', sandboxPay);
    $('cancel-order').addEventListener('click', cancelOrder);
    $('refresh-history').addEventListener('click', refreshHistory);
    try { state.devMode = !!(await api('GET', '/ui/config.json')).devMode; } catch { state.devMode = false; }
    if (location.pathname === '/result') showReturn();
    await loadSkus();
    refreshHistory();
  }

  init();
})();
