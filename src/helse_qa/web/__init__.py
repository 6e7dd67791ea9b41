"""The Gradio chat UI (app), its escaped HTML and labels (render) and the Markdown briefing
export (briefing). The only home of gradio."""
