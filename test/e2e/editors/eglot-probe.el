;;; eglot-probe.el --- drive Emacs eglot against tdx-audit's server -*- lexical-binding: t -*-
;; Run by test/e2e/emacs.test.ts:  emacs --batch -q -l eglot-probe.el
;; Reads TDX_SNIPPET (the README's eglot configuration), TDX_ROOT, TDX_FILE, TDX_HOVER_LINE (1-based), TDX_HOVER_COL,
;; TDX_OUT; writes what flymake shows and the hover text as JSON to TDX_OUT.
(load (getenv "TDX_SNIPPET") nil t) ; the README snippet, before eglot loads
(require 'eglot)
(require 'json)
(require 'flymake)

(let* ((root (file-name-as-directory (getenv "TDX_ROOT")))
       (file (getenv "TDX_FILE"))
       (out (getenv "TDX_OUT"))
       (result (list)))
  (condition-case err
      (progn
        ;; A transient project for a folder outside version control.
        (setq project-find-functions (list (lambda (_dir) (cons 'transient root))))
        (setq eglot-sync-connect 10)
        (find-file file)
        (c-mode)
        (let ((start (float-time)))
          (apply #'eglot--connect (eglot--guess-contact))
          (unless (eglot-current-server) (error "eglot did not connect"))
          (flymake-start)
          (let ((deadline (+ (float-time) 20)))
            (while (and (null (flymake-diagnostics)) (< (float-time) deadline))
              (accept-process-output nil 0.05)
              (flymake-start)))
          (push (cons 'diagnostics_ms (round (* 1000 (- (float-time) start)))) result)
          (push (cons 'diagnostics
                      (vconcat
                       (mapcar (lambda (d)
                                 (let ((b (flymake-diagnostic-beg d)) (e (flymake-diagnostic-end d)))
                                   `((line . ,(line-number-at-pos b))
                                     ;; characters from the line start (not display columns: tabs)
                                     (col . ,(- b (save-excursion (goto-char b) (line-beginning-position))))
                                     (end_col . ,(- e (save-excursion (goto-char e) (line-beginning-position))))
                                     (type . ,(symbol-name (flymake-diagnostic-type d)))
                                     (text . ,(flymake-diagnostic-text d)))))
                               (sort (flymake-diagnostics) (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b)))))))
                result)
          (goto-char (point-min))
          (forward-line (1- (string-to-number (getenv "TDX_HOVER_LINE"))))
          (forward-char (string-to-number (getenv "TDX_HOVER_COL")))
          (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                        (eglot--TextDocumentPositionParams))))
            (push (cons 'hover (let ((c (plist-get hover :contents))) (if (stringp c) c (plist-get c :value)))) result))
          (eglot-shutdown (eglot-current-server))))
    (error (push (cons 'error (error-message-string err)) result)))
  (with-temp-file out (insert (json-encode result)))
  (kill-emacs 0))
