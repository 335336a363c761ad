"""Entry point: `streamlit run app.py`.

Declares the navigation, so the sidebar says "Home" (not the file name) and
every page has its title and icon; the home page itself is `home.py`, the
others are in `pages/`.

Streamlit still treats a `pages/` folder the old way until this script has run
once in the server process: if the very first visit after start-up is a deep
link (say /Train), that session's sidebar lists the same pages but calls Home
"app". Every session after a first visit to the home page gets this navigation.
"""

import streamlit as st

st.navigation([
    st.Page("home.py", title="Home", icon="🧭", default=True),
    st.Page("pages/1_Train.py", title="Train", icon="🏋️"),
    st.Page("pages/2_Reconstruct.py", title="Reconstruct", icon="🔁"),
    st.Page("pages/3_Denoise.py", title="Denoise", icon="🧽"),
    st.Page("pages/4_Latent_Scatter.py", title="Latent Scatter", icon="🌌"),
    st.Page("pages/5_Latent_Slider.py", title="Latent Slider", icon="🎚️"),
    st.Page("pages/6_Morph.py", title="Morph", icon="🎞️"),
]).run()
