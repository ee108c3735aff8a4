from itilflow.app import create_app

app = create_app()
