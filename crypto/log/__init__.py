"""The transparency log, independent of what is logged (docs/protocol.md §12): RFC 9162 Merkle
trees and proofs (``merkle``), C2SP signed notes (``note``), tlog-checkpoints and cosignatures
(``checkpoint``), receipts (``receipt``), the export file (``export``) and its offline audit
(``audit``), the trust bundle (``trust``), a client's view of the log (``view``) and an export
against the witnesses' checkpoints and a kept view (``split_view``). Nothing here knows an
election: the record families live elsewhere and are checked by crypto/audit.py."""
