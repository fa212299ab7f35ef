/* Small progressive enhancements for the server-rendered pages.
 *
 * Load with `defer`, after htmx.min.js. Every page works without this file
 * and without htmx; nothing here needs htmx to be present. It adds no inline
 * script or style (the CSP is script-src 'self'; style-src 'self').
 *
 *  - form[data-confirm], button[data-confirm]: ask window.confirm() first,
 *    unless htmx asks already (hx-confirm on the element or an ancestor).
 *  - every same-origin htmx request carries the X-CSRF-Token header, read
 *    from <meta name="csrf-token" content="...">.
 *  - button[data-copy="<input id>"] copies that input's value.
 *  - [data-countdown="<unix seconds>"] shows the time left as m:ss; at 0 it
 *    gets class "expired" and dispatches a bubbling "countdown-expired" event.
 */
(function () {
  "use strict";

  var doc = document;

  /* Confirmations ------------------------------------------------------ */

  function htmxConfirms(el) {
    return el.closest("[hx-confirm],[data-hx-confirm]") !== null;
  }

  function cancel(e) {
    e.preventDefault();
    e.stopImmediatePropagation(); // capture phase: htmx's own listeners never see it
  }

  doc.addEventListener("click", function (e) {
    var btn = e.target instanceof Element ? e.target.closest("button[data-confirm]") : null;
    if (!btn || htmxConfirms(btn)) return;
    if (!window.confirm(btn.dataset.confirm)) cancel(e);
  }, true);

  doc.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm") || htmxConfirms(form)) return;
    var by = e.submitter;
    if (by && by.matches("button[data-confirm]") && !htmxConfirms(by)) return; // asked on click
    if (!window.confirm(form.dataset.confirm)) cancel(e);
  }, true);

  /* CSRF header on htmx requests --------------------------------------- */

  function sameOrigin(path) {
    try {
      return new URL(path, window.location.href).origin === window.location.origin;
    } catch (err) {
      return false;
    }
  }

  doc.addEventListener("htmx:configRequest", function (e) {
    var d = e.detail;
    var meta = doc.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute("content") : "";
    if (!token || !d || !d.headers || !sameOrigin(d.path || "")) return;
    d.headers["X-CSRF-Token"] = token;
  });

  /* Countdowns --------------------------------------------------------- */

  var fired = new WeakMap(); // element -> data-countdown value it expired for

  function format(secs) {
    var s = secs % 60;
    return Math.floor(secs / 60) + ":" + (s < 10 ? "0" : "") + s;
  }

  function tick() {
    var now = Date.now() / 1000;
    var els = doc.querySelectorAll("[data-countdown]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var raw = el.getAttribute("data-countdown");
      var end = Number(raw);
      if (!raw || !isFinite(end) || fired.get(el) === raw) continue;
      var left = Math.max(0, Math.ceil(end - now));
      var text = format(left);
      if (el.textContent !== text) el.textContent = text;
      if (left > 0) {
        el.classList.remove("expired");
        continue;
      }
      fired.set(el, raw);
      el.classList.add("expired");
      el.dispatchEvent(new CustomEvent("countdown-expired", { bubbles: true }));
    }
  }

  function loop() {
    tick();
    window.setTimeout(loop, 1010 - (Date.now() % 1000)); // just after each second
  }

  function soon() {
    window.setTimeout(tick, 0);
  }

  // Start after DOMContentLoaded so htmx (whose ready handler was registered
  // first) has bound hx-trigger="countdown-expired" before anything fires.
  if (doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", function () { window.setTimeout(loop, 0); });
  } else {
    window.setTimeout(loop, 0);
  }
  doc.addEventListener("htmx:load", soon); // content swapped in
  doc.addEventListener("visibilitychange", soon); // timers slow down in background tabs

  /* Copy buttons: button[data-copy="<input id>"] copies that input's value
   * (the share form's connect link); without this file the input is there
   * to select by hand. */
  doc.addEventListener("click", function (e) {
    var btn = e.target instanceof Element ? e.target.closest("button[data-copy]") : null;
    var input = btn && doc.getElementById(btn.dataset.copy);
    if (!input) return;
    input.select();
    if (navigator.clipboard) navigator.clipboard.writeText(input.value);
  });

  /* A refused form: focus moves to the first field marked invalid (its
   * message is next to it, tied by aria-describedby, so a screen reader
   * reads both), once when the page loads and once after each swap that
   * brings one in. The field keeps what was typed: the server renders it
   * back. */
  function focusFirstError(root) {
    var el = (root || doc).querySelector('[aria-invalid="true"]');
    if (!el) return;
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "center" });
  }
  if (doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", function () { focusFirstError(doc); });
  } else {
    focusFirstError(doc);
  }
  doc.addEventListener("htmx:afterSwap", function (e) {
    if (e.target instanceof Element) focusFirstError(e.target);
  });
})();
