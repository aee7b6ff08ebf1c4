# Load the board, build the controller, run the loop. Never returns.
from stim import app

app.main()
