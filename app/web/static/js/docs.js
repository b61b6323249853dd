// Starts Swagger UI or ReDoc on the element the page provides; settings come from
// its data- attributes, so the page itself holds no script.
(function () {
  "use strict";
  var swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      domNode: swagger,
      deepLinking: true,
      persistAuthorization: false,
      // No badge from the public validator: the page must work offline.
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  }
  var redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    window.Redoc.init(redoc.dataset.openapiUrl, { nonce: redoc.dataset.styleNonce }, redoc);
  }
})();
