// Irreversible actions ask first: a form with data-confirm="…" is sent only when the person says yes.
// A static file (CSP allows only 'self'). Without JavaScript the form is sent as before.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
})();
