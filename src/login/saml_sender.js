// credtray's sender, injected into the main frame only (wry's TopFrame user script) at document
// start, before the page's own scripts. It alone knows this login's nonce (the placeholder below is
// replaced by a fresh random token for each run of credtray-login); the window acts on no
// message without it.
//
// Why a nonce: every frame of the page, a third-party iframe included, can call
// window.webkit.messageHandlers.ipc.postMessage, and WebKitGTK tells the UI process nothing
// about the sender (wry's Request carries the main view's URL whoever sent it). So the message
// must prove where it came from. The nonce lives in this closure: no other frame gets this
// script, a cross-origin frame can't reach into the main frame's realm, and the page itself can
// only call __credtray_send (below), never read what it closes over. The message object has no
// prototype, so no page-defined toJSON sees it, and postMessage and JSON.stringify are taken
// before any page script runs.
//
// __credtray_send is how the other frames of the same origin hand over what they caught (a login
// in a same-origin iframe is captured too): a cross-origin frame gets a SecurityError reading it
// from window.top, which is exactly the line the login draws. The main frame's own document may
// call it too: it is the identity provider's page, whose word the window takes anyway (and STS
// checks the assertion's signature).
//
// What this can't stop: WebKitGTK lets a cross-origin frame navigate the main frame itself
// (window.top.location, once the person clicked in the frame), and its navigation policy names
// no initiating frame, so the page that frame loads there becomes the main frame's document,
// with this sender. Such a page can end the login (with an error: STS checks the assertion's
// signature and credtray the role it grants) but can't make credtray take another account's
// credentials. Sending the main frame to AWS's sign-in itself ends nothing (window.rs takes a
// read-back's "none" only after this document said it sends a form there without a
// SAMLResponse), and a frame's window.open gets no page of another origin into the main view.
(() => {
  const nonce = @NONCE@;
  const handler = window.webkit.messageHandlers.ipc;
  const postMessage = handler.postMessage.bind(handler);
  const stringify = JSON.stringify;
  const text = (value) => (value === undefined || value === null ? '' : String(value));
  const send = (message) => {
    const m = message || {};
    postMessage(stringify({
      __proto__: null,
      nonce,
      kind: text(m.kind),
      via: text(m.via),
      url: text(m.url),
      saml: text(m.saml),
    }));
  };
  Object.defineProperty(window, '__credtray_send', { value: send });
})();
