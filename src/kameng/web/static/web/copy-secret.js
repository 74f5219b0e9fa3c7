// The key page's copy buttons: shown only where the Clipboard API works (a secure context); without it
// the key stays selectable text. No inline script: CSP allows only 'self'.
(function () {
  "use strict";
  var script = document.getElementById("copy-script");
  var status = document.getElementById("copy-status");
  if (!navigator.clipboard || !window.isSecureContext) return;
  var buttons = document.querySelectorAll("button.copy-secret");
  Array.prototype.forEach.call(buttons, function (button) {
    button.style.display = "";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-secret")).then(function () {
        if (status) status.textContent = script.getAttribute("data-copied");
        button.classList.add("done");
      }, function () {
        if (status) status.textContent = script.getAttribute("data-failed");
      });
    });
  });
})();
