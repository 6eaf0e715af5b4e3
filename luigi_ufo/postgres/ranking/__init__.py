"""One ranking semantics for top-N loads: the tie rules and the engines that apply them.

``rules`` holds the tie rules and the pure Python ranking (``top_n``), ``reader`` reads input
rows into records, ``parts`` is what the fast engines share (CSV parts, headers, ``Declined``),
``arrow`` and ``database`` rank CSV with pyarrow and in PostgreSQL, and ``engines.rank`` picks the
first that takes the input. Every engine gives the rows, ranks, errors and counts of ``top_n``.
"""
