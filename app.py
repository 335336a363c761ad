"""Entry point: `streamlit run app.py`.

Declares the navigation (`navigation.PAGES`: each page's script, title and
icon), so the sidebar says "Home" (not the file name) and every page has its
title and icon; the home page itself is `home.py`, the others are in `pages/`.
A deep link as the very first visit after start-up still gets this navigation:
see `navigation.declare_once`.
"""

import navigation

navigation.navigation().run()
