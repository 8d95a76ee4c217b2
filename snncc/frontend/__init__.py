"""Frontend: equations, models, network objects and layers; it lowers them to the IR and
hands the IR (and plain data: monitors, training plans) to :mod:`snncc.runtime`, which
it imports, never the reverse."""
