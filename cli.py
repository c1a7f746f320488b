import click
@click.group()
def main():
    """jumpdata"""
