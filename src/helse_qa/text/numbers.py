"""Years and figures in text: the patterns live here once.

The corpus is about 2015-2025; the external training data (SQuAD, XQuAD, NorQuAD) also
speaks of the 16th to 19th centuries, hence the two widths.
"""

from __future__ import annotations

import re

# The digits of a year of the corpus' era (1800-2099), to build other patterns from.
YEAR_DIGITS = r"(?:1[89]\d\d|20\d\d)"
# Such a year, not part of a longer number.
YEAR = re.compile(rf"(?<!\d)({YEAR_DIGITS})(?!\d)")
# A year of external data (1500-2099).
ANY_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
# A figure that is not a year of the 20th or 21st century ("23,6", "370", "54").
FIGURE = re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d+(?:[.,]\d+)?")
# The same for external data: not a year from 1500 on.
ANY_FIGURE = re.compile(r"(?<!\d)(?!(?:1[5-9]|20)\d\d(?!\d))\d+(?:[.,]\d+)?")
# A figure standing as a number, not a digit inside a name ("I4Helse"), not a year.
AMOUNT = re.compile(r"(?<![^\W\d_])(?<!\d)(?!(?:19|20)\d\d(?!\d))\d+(?:[.,]\d+)?(?![^\W\d_])")
