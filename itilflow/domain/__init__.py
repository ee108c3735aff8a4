"""The Flask-free heart of itilflow: parties and layers, the RACI matrix, priority, the business
calendar, SLA clocks and the workflow machines. Nothing here touches a request, a database
session or the wall clock: the actor and the time are always passed in."""
