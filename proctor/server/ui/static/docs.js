/* Starts the API reference page (/docs: Swagger UI) from the server's own files: an inline
   script would be refused by the page's Content-Security-Policy. Swagger UI's "Try it out"
   calls carry the session's CSRF token, as the UI's own calls do. */
"use strict";

function docsCsrfToken() {
  const meta = document.querySelector('meta[name="proctor-csrf"]');
  return meta ? meta.content : null;
}

document.addEventListener("DOMContentLoaded", () => {
  const swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({
      url: swagger.dataset.openapi,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      presets: [window.SwaggerUIBundle.presets.apis],
      deepLinking: true,
      validatorUrl: null,  // the default asks a public validator: nothing leaves this server
      requestInterceptor: (request) => {
        const token = docsCsrfToken();
        if (token) request.headers["X-Proctor-CSRF"] = token;
        return request;
      },
    });
  }
});
