// Checkout: the total follows the quantity as it is typed (the server shows the same figure on submit).
// No inline script: CSP allows only 'self'.
(function () {
  "use strict";
  var form = document.getElementById("checkout-form");
  if (!form) return;
  var unit = parseInt(form.getAttribute("data-unit-fen"), 10);
  var quantity = form.querySelector("input[name=quantity]");
  var total = document.getElementById("order-total");
  var shown = document.getElementById("order-quantity");
  if (!quantity || !total || !unit) return;
  function yuan(fen) { return (fen / 100).toFixed(2); }  // fen are integers below 2^53: exact
  quantity.addEventListener("input", function () {
    var n = parseInt(quantity.value, 10);
    if (!(n >= 1)) return;
    total.textContent = "¥" + yuan(unit * n);
    if (shown) shown.textContent = String(n);
  });
})();
