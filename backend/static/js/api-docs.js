/* /api/docs: start the vendored Swagger UI on the page's OpenAPI document.
   A file, not an inline script: the page's Content-Security-Policy allows scripts from
   this origin only (backend/web/api_docs.py). */
"use strict";

window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the online validator would send the spec to a foreign site
  });
});
