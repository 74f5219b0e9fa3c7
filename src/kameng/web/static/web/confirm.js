// Irreversible actions ask first: a form with data-confirm="…" is sent only when the person says yes, and
// then carries confirmed=1 so the server does not ask again. A static file (CSP allows only 'self').
// Without JavaScript the form is sent without it and the server answers with its own confirmation page
// (kameng/web/confirmations.py): the question is asked either way.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var said = form.querySelector('input[name="confirmed"]');
    if (!said) {
      said = document.createElement("input");
      said.type = "hidden";
      said.name = "confirmed";
      form.appendChild(said);
    }
    said.value = "1";
  }, true);
})();
