// Starts Swagger UI on the /docs page. It renders the OpenAPI document named by the data-spec
// attribute of #swagger-ui; "Try it out" sends requests to the document's server, which is this
// one (its servers entry is a relative URL). It lives in a file of its own, not an inline script,
// so that the page's Content-Security-Policy allows scripts from this server only.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true, // #/tag/operationId opens that operation
    validatorUrl: null, // never send the document to an online validator
    queryConfigEnabled: false, // ?url=... cannot make the page render another document
    displayRequestDuration: true
  });
})();
