// The apply page: choosing other items recomputes eligibility and fees on the server.
// No inline script: CSP allows only 'self'. Without JavaScript the "recalculate" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("refund-apply");
  var recalc = document.getElementById("recalc");
  if (!form || !recalc) return;
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "items") {
      if (form.requestSubmit) form.requestSubmit(recalc); else recalc.click();
    }
  });
})();
