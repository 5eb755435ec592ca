/*
 * The field guide's finishing touches to Material for MkDocs, loaded on every page
 * by overrides/main.html after the theme's own bundle. Each one fixes a failure
 * that the browser tests (tests/test_browser.py) check for.
 */
(function () {
  "use strict";

  /* Material wraps every table in a div that scrolls sideways when the table is
   * wider than the screen, and a notebook's code cells scroll the same way.
   * Keyboard users can only scroll what they can focus (axe rule
   * scrollable-region-focusable), so each gets a tab stop, as Material already
   * gives each code block. */
  var SCROLLERS = ".md-typeset__scrollwrap:not([tabindex])," +
    ".jupyter-wrapper .highlight-ipynb:not([tabindex])";

  function focusableScrollers(root) {
    root.querySelectorAll(SCROLLERS)
      .forEach(function (box) { box.setAttribute("tabindex", "0"); });
  }

  /* Material puts each code block's copy button in a <nav>, which makes every
   * block a navigation landmark with the same (empty) name (axe rule
   * landmark-unique). One button is no navigation: the button stays, the
   * landmark goes. */
  function plainCodeButtons(root) {
    root.querySelectorAll("nav.md-code__nav:not([role])")
      .forEach(function (nav) { nav.setAttribute("role", "none"); });
  }

  /* A console or pycon block shows prompts ("$ ", ">>> ", "... ") and outputs.
   * The copy button must copy only what a reader types: Material copies the
   * text of the closest [data-copy] attribute when there is one, so blocks with
   * prompts get the commands alone, one per line, without the prompts. */
  function commandsOnly(code) {
    var lines = [{ text: "", prompt: false }];
    var walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var token = node.parentElement.closest(".gp, .go");
      var kind = token && code.contains(token) ? token.className : "";
      node.data.split("\n").forEach(function (part, i) {
        if (i > 0) lines.push({ text: "", prompt: false });
        var line = lines[lines.length - 1];
        if (kind === "gp") line.prompt = true;
        else if (kind !== "go") line.text += part;
      });
    }
    return lines
      .filter(function (line) { return line.prompt; })
      .map(function (line) { return line.text.replace(/\s+$/, ""); })
      .join("\n");
  }

  function copyWithoutPrompts(root) {
    root.querySelectorAll(".highlight code:not([data-copy])").forEach(function (code) {
      if (code.querySelector(".gp")) code.setAttribute("data-copy", commandsOnly(code));
    });
  }

  /* Material's search dialog (div.md-search, role="dialog") has no accessible
   * name (axe rule aria-dialog-name): name it as its search field is named. */
  function nameSearchDialog() {
    var dialog = document.querySelector('.md-search[role="dialog"]:not([aria-label])');
    var input = document.querySelector(".md-search__input");
    if (dialog && input) dialog.setAttribute("aria-label", input.getAttribute("aria-label"));
  }

  function finish() {
    var root = document.querySelector(".md-content") || document.body;
    nameSearchDialog();
    focusableScrollers(root);
    plainCodeButtons(root);
    copyWithoutPrompts(root);
  }

  /* Material gives a code block that scrolls sideways a tab stop, and takes it
   * from one that does not, when it mounts the block; with content.lazy
   * (mkdocs.yml) it mounts a block only when the block first comes into view.
   * Until then each block keeps a tab stop, so a keyboard user reaches a block
   * that scrolls even before it has been on screen: focus brings it into view,
   * and Material then keeps or removes the stop. Done once, at load, before
   * Material mounts anything; done again later, it would undo Material's choice. */
  function codeTabStops(root) {
    root.querySelectorAll(".highlight > pre > code:not([tabindex])")
      .forEach(function (code) { code.setAttribute("tabindex", "0"); });
  }

  /* Material builds the table wrappers and code buttons from its own script, at
   * load, as code blocks come into view, and again after instant navigation:
   * follow its document$ stream when it is there, and watch the content for
   * elements it adds later. */
  codeTabStops(document.querySelector(".md-content") || document.body);
  finish();
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(finish);
  }
  var content = document.querySelector(".md-content");
  if (content && window.MutationObserver) {
    new MutationObserver(finish).observe(content, { childList: true, subtree: true });
  }
})();
