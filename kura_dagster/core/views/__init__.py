"""Views: the topic tree as text, the map image and the HTML explorer."""
