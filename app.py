"""Entry point: `streamlit run app.py`.

Declares the navigation, so the sidebar says "Home" (not the file name) and
every page has its title and icon; the home page itself is `home.py`, the
others are in `pages/`.
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
