"""Simplified Chinese number grouping for ``intcomma`` (counts on cards, job progress, import summaries).

Django's zh_Hans locale groups by four digits with no separator, so ``intcomma`` printed 100000 and 1234567 as they
are, while the pages' other counts (formatted with ``{:,}``) read 100,000. GB/T 15835-2011 (出版物上数字用法) allows
grouping by three digits with a comma (千分撇) outside scientific texts, as bureau statistics usually do; the pages now
read the same everywhere. Only grouped output changes: ``USE_THOUSAND_SEPARATOR`` stays off, so plain numbers and form
inputs are untouched."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
