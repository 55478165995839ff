// credtray's SAML capture, run at document start in every frame before the page's own scripts
// (user scripts are not subject to the page's CSP). A SAMLResponse on its way to an AWS sign-in
// (ACS) endpoint is handed to credtray and never sent: form.submit(), a submit event (buttons,
// Enter, requestSubmit), fetch and XHR. It also says when the page waits for the person (a
// visible field to type into), so the hidden window can show itself, and when a form goes to
// AWS without a SAMLResponse (`fieldless`, see below). Messages go through the
// main frame's sender (saml_sender.js), which only the main frame and frames of its origin can
// reach; a cross-origin frame's catch is still kept from leaving, but its word can't end the
// login, so it is posted bare (no nonce) for the window to log and ignore.
(() => {
  const ACS = /^https:\/\/([a-z0-9-]+\.)*signin\.(aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn)(:443)?\/saml(\/|\?|#|$)/i;
  const bare = window.webkit.messageHandlers.ipc;
  const post = (message) => {
    let send;
    try {
      send = window.top.__credtray_send;
    } catch (_) {
      // A cross-origin frame: window.top's properties are out of its reach.
    }
    if (typeof send === 'function') {
      send(message);
    } else {
      bare.postMessage(JSON.stringify({ kind: message.kind, via: message.via }));
    }
  };
  const absolute = (url) => {
    try {
      return new URL(url, document.baseURI).href;
    } catch (_) {
      return '';
    }
  };
  const capture = (via, url, saml) => post({ kind: 'saml', via, url, saml: String(saml) });

  // Read through the prototype, so an <input name="action"> can't shadow the form's action.
  const actionOf = Object.getOwnPropertyDescriptor(HTMLFormElement.prototype, 'action').get;
  // A form bound for AWS's sign-in: its URL and its SAMLResponse (null without the field).
  const bound = (form, submitter) => {
    const action = submitter && submitter.hasAttribute && submitter.hasAttribute('formaction')
      ? submitter.formAction
      : actionOf.call(form);
    const url = absolute(action);
    if (!ACS.test(url)) return null;
    return { url, saml: new FormData(form).get('SAMLResponse') };
  };
  // A form bound for AWS without a SAMLResponse goes on (the navigation handler cancels it),
  // said first: the window takes the read-back's "none" for the login's end only when the main
  // frame's document said so, not when a frame of another origin went to AWS on its own.
  const fieldless = (via, url) => post({ kind: 'fieldless', via, url });

  const submit = HTMLFormElement.prototype.submit;
  HTMLFormElement.prototype.submit = function () {
    const found = bound(this, null);
    if (found && found.saml) {
      capture('form.submit', found.url, found.saml);
      return;
    }
    if (found) fieldless('form.submit', found.url);
    return submit.call(this);
  };
  window.addEventListener('submit', (event) => {
    const found = bound(event.target, event.submitter);
    if (found && found.saml) {
      event.preventDefault();
      event.stopImmediatePropagation();
      capture('submit-event', found.url, found.saml);
    } else if (found) {
      fieldless('submit-event', found.url);
    }
  }, true);

  const samlIn = (body) => {
    try {
      if (body instanceof URLSearchParams || body instanceof FormData) return body.get('SAMLResponse');
      if (typeof body === 'string') return new URLSearchParams(body).get('SAMLResponse');
    } catch (_) {}
    return null;
  };
  const fetch = window.fetch;
  window.fetch = function (input, init) {
    const url = absolute(typeof input === 'string' ? input : (input && input.url) || String(input));
    const saml = ACS.test(url) ? samlIn(init && init.body) : null;
    if (saml) {
      capture('fetch', url, saml);
      return new Promise(() => {});
    }
    return fetch.apply(this, arguments);
  };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__credtrayUrl = absolute(url);
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function (body) {
    const saml = ACS.test(this.__credtrayUrl || '') ? samlIn(body) : null;
    if (saml) {
      capture('xhr', this.__credtrayUrl, saml);
      return;
    }
    return send.apply(this, arguments);
  };

  const typeable = (el) => {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    return !['hidden', 'submit', 'button', 'image', 'reset'].includes(type)
      && !el.disabled
      && el.getClientRects().length > 0
      && getComputedStyle(el).visibility !== 'hidden';
  };
  let said = false;
  const waitsForInput = () => {
    if (said || document.readyState === 'loading') return;
    if (Array.from(document.querySelectorAll('input, textarea, select')).some(typeable)) {
      said = true;
      post({ kind: 'input' });
    }
  };
  document.addEventListener('DOMContentLoaded', waitsForInput);
  window.addEventListener('load', waitsForInput);
  setInterval(waitsForInput, 500);
})();
